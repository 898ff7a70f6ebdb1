import { createServer } from 'node:http'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { FeedPoller } from '../../../realtime/revocations/feed-poller.ts'
import { cleanup, connect, refusal, startIssuer, startServer } from '../support.ts'
import { until } from '../waits.ts'

afterEach(cleanup)

type Event = {
  cursor: number
  kind: 'session' | 'user' | 'key'
  id: string
  at: number
  until: number
}

/** A fake of the edge's feed endpoint, over real HTTP. */
async function feedServer(
  pages: (after: number) => { status: number; events?: Event[]; next?: number },
) {
  const requests: { after: number; auth: string | undefined }[] = []
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x')
    const after = Number(url.searchParams.get('after'))
    requests.push({ after, auth: req.headers.authorization })
    const page = pages(after)
    res.writeHead(page.status, { 'content-type': 'application/json' })
    res.end(
      page.status === 200
        ? JSON.stringify({ events: page.events ?? [], next: page.next ?? after })
        : '{}',
    )
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return { url, requests, close: () => new Promise<void>((r) => server.close(() => r())) }
}

const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600

describe('FeedPoller', () => {
  it('reads from cursor 0 with the bearer token, follows next, and is synced at the end of the feed', async () => {
    const applied: string[] = []
    const feed = await feedServer((after) =>
      after === 0
        ? {
            status: 200,
            events: [{ cursor: 1, kind: 'session', id: 's1', at: 1, until: inTenMinutes() }],
            next: 1,
          }
        : after === 1
          ? {
              status: 200,
              events: [{ cursor: 2, kind: 'user', id: 'u1', at: 1, until: inTenMinutes() }],
              next: 2,
            }
          : { status: 200, events: [], next: 2 },
    )
    const poller = new FeedPoller({
      edgeUrl: feed.url,
      feedToken: 'feed-secret',
      intervalMs: 50,
      apply: (e) => applied.push(...e.map((x) => x.id)),
    })
    poller.start()
    await until(() => poller.synced())
    poller.stop()
    await feed.close()
    expect(applied).toEqual(['s1', 'u1'])
    expect(poller.position()).toBe(2)
    expect(feed.requests.slice(0, 3).map((r) => r.after)).toEqual([0, 1, 2])
    expect(feed.requests.every((r) => r.auth === 'Bearer feed-secret')).toBe(true)
  })

  it('keeps its cursor through failed polls and is not synced until a poll succeeds', async () => {
    let failing = true
    const feed = await feedServer(() =>
      failing ? { status: 503 } : { status: 200, events: [], next: 7 },
    )
    const poller = new FeedPoller({
      edgeUrl: feed.url,
      feedToken: 't',
      intervalMs: 30,
      apply: () => {},
    })
    poller.start()
    await until(() => feed.requests.length >= 3)
    expect(poller.synced()).toBe(false)
    expect(poller.position()).toBe(0)
    failing = false
    await until(() => poller.synced())
    poller.stop()
    await feed.close()
    expect(poller.position()).toBe(7)
  })

  it('refuses a malformed page without moving the cursor', async () => {
    const feed = await feedServer(() => ({
      status: 200,
      events: [{ cursor: 'x' } as never],
      next: 9,
    }))
    const applied: unknown[] = []
    const poller = new FeedPoller({
      edgeUrl: feed.url,
      feedToken: 't',
      intervalMs: 30,
      apply: (e) => applied.push(...e),
    })
    poller.start()
    await until(() => feed.requests.length >= 2)
    poller.stop()
    await feed.close()
    expect(applied).toEqual([])
    expect(poller.position()).toBe(0)
    expect(poller.synced()).toBe(false)
  })
})

describe('the revocation feed gate', () => {
  it('refuses handshakes as unavailable and reports not ready until the feed has been read, then enforces what it read', async () => {
    const issuer = await startIssuer()
    let up = false
    const feed = await feedServer(() =>
      up
        ? {
            status: 200,
            events: [
              { cursor: 1, kind: 'session', id: 'revoked-sid', at: 1, until: inTenMinutes() },
            ],
            next: 1,
          }
        : { status: 503 },
    )
    const { url, server } = await startServer(issuer, {
      revocationFeed: { edgeUrl: feed.url, token: 't', intervalMs: 50 },
    })
    const token = await issuer.mint({ sid: 'fine-sid' })
    expect(await refusal(url, { auth: { token } })).toEqual({
      message: 'unavailable',
      data: { code: 'unavailable', retryable: true, refresh: false },
    })
    const ready = await fetch(`${url}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { reasons: string[] }).reasons).toContain(
      'revocation feed not yet read',
    )
    up = true
    await until(() => server.notReadyReasons().length === 0)
    await expect(connect(url, { auth: { token } })).resolves.toBeTruthy()
    expect(
      (await refusal(url, { auth: { token: await issuer.mint({ sid: 'revoked-sid' }) } })).message,
    ).toBe('token_revoked')
    await feed.close()
  })
})
