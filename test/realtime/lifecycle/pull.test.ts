/**
 * Lifecycle events on one node (docs/protocol.md §16) through the server
 * API: real sockets make the transitions (tabs, grace, reload), a
 * revocation is recorded, and `GET /api/v1/events` pages them in order to a
 * service holding `events:read`, and to nobody else.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, startIssuer, startServer } from '../support.ts'
import { settle, until } from '../waits.ts'
import { serviceToken } from '../api/service.ts'

afterEach(cleanup)

const GRACE_MS = 300
/** Real time that lets a grace that were not kept (deadlines tick every 250 ms) show; never needed to pass. */
const SHOW_MS = 1000

/** A node with a short grace, or `graceMs`; its clock runs real time plus what `clock.advance` adds. */
async function setUp(graceMs = GRACE_MS) {
  const issuer = await startIssuer()
  let offset = 0
  const clock = { advance: (ms: number) => void (offset += ms) }
  const { url, server } = await startServer(issuer, {
    now: () => Date.now() + offset,
    presence: { graceMs },
  })
  const reader = await serviceToken(issuer, { scope: 'events:read' })
  const get = async (path: string, token: string | undefined = reader) => {
    const res = await fetch(`${url}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    return {
      status: res.status,
      cache: res.headers.get('cache-control'),
      body: (await res.json()) as any,
    }
  }
  const all = async () => (await get('/api/v1/events?limit=1000')).body.events as any[]
  /** The events once there are at least `n` (bounded). */
  const atLeast = async (n: number): Promise<any[]> => {
    let events: any[] = []
    const deadline = Date.now() + 10_000
    while ((events = await all()).length < n && Date.now() < deadline) await settle(20)
    return events
  }
  const tab = async (sub: string, sid = `s-${Math.random()}`) =>
    connect(url, { auth: { token: await issuer.mint({ sub, name: sub, sid }) } })
  return { issuer, server, get, all, atLeast, tab, clock }
}
const brief = (events: any[]) => events.map((e) => `${e.type} ${Object.values(e.data).join(' ')}`)

describe('lifecycle events on one node', () => {
  it('records one user.online for two tabs, nothing when one closes, and one user.offline after the grace when both have', async () => {
    const { all, atLeast, tab } = await setUp()
    const one = await tab('bob')
    const two = await tab('bob')
    expect(brief(await atLeast(1))).toEqual(['user.online bob'])
    one.close()
    await settle(GRACE_MS * 3)
    expect(brief(await all())).toEqual(['user.online bob'])
    const closedAt = Date.now()
    two.close()
    const events = await atLeast(2)
    expect(brief(events)).toEqual(['user.online bob', 'user.offline bob'])
    expect(events[1].ts - closedAt).toBeGreaterThanOrEqual(GRACE_MS)
  })

  it('records nothing for a reload inside the grace', async () => {
    // A grace far longer than the reload takes (at 300 ms, a handshake on a loaded machine could
    // outlast it), which the test then moves the node's clock past.
    const { all, atLeast, tab, server, clock } = await setUp(60_000)
    const first = await tab('carol')
    first.close()
    await until(() => server.io.of('/').sockets.size === 0, { what: 'the first tab gone' })
    const second = await tab('carol')
    clock.advance(120_000)
    await settle(SHOW_MS)
    expect(brief(await all())).toEqual(['user.online carol'])
    // Her leave as the marker: nothing the reload caused comes after it.
    second.close()
    await until(() => server.io.of('/').sockets.size === 0, { what: 'the second tab gone' })
    clock.advance(120_000)
    expect(brief(await atLeast(2))).toEqual(['user.online carol', 'user.offline carol'])
  })

  it('records session.revoked for a revocation applied', async () => {
    const { all, server } = await setUp()
    server.revoke({
      kind: 'session',
      id: 'sid-1',
      at: 1,
      until: Math.floor(Date.now() / 1000) + 60,
    })
    server.revoke({
      kind: 'session',
      id: 'sid-1',
      at: 1,
      until: Math.floor(Date.now() / 1000) + 60,
    })
    const events = await all()
    expect(events).toEqual([
      {
        id: expect.any(String),
        type: 'session.revoked',
        ts: expect.any(Number),
        offset: expect.any(String),
        data: { kind: 'session', id: 'sid-1' },
      },
    ])
  })

  it('pages the same events in offset order, with next, and no-store', async () => {
    const { get, tab } = await setUp()
    for (const sub of ['u1', 'u2', 'u3']) await tab(sub)
    const first = await get('/api/v1/events?limit=2')
    expect(first.status).toBe(200)
    expect(first.cache).toBe('no-store')
    expect(first.body.gap).toBe(false)
    expect(brief(first.body.events)).toEqual(['user.online u1', 'user.online u2'])
    expect(first.body.next).toBe(first.body.events[1].offset)
    const rest = await get(`/api/v1/events?after=${encodeURIComponent(first.body.next)}`)
    expect(brief(rest.body.events)).toEqual(['user.online u3'])
    const empty = await get(`/api/v1/events?after=${encodeURIComponent(rest.body.next)}`)
    expect(empty.body).toEqual({ events: [], next: rest.body.next, gap: false })
  })

  it('answers gap for an offset this log never had', async () => {
    const { get, tab } = await setUp()
    await tab('u1')
    const page = await get('/api/v1/events?after=000000000000.1')
    expect(page.body).toMatchObject({ gap: true, events: [{ type: 'user.online' }] })
  })

  it('refuses a token without events:read with 403, none with 401, and a bad limit or offset with 400', async () => {
    const { get, issuer } = await setUp()
    const presence = await serviceToken(issuer, { scope: 'presence:read publish' })
    expect(await get('/api/v1/events', presence)).toMatchObject({
      status: 403,
      body: { error: 'forbidden' },
    })
    expect((await get('/api/v1/events', '')).status).toBe(401)
    for (const query of [
      'limit=0',
      'limit=1001',
      'limit=x',
      'after=not-an-offset',
      `after=${'9'.repeat(70)}`,
    ]) {
      expect(await get(`/api/v1/events?${query}`)).toMatchObject({
        status: 400,
        body: { error: 'envelope_invalid' },
      })
    }
  })

  it('refuses a user token: the audiences differ', async () => {
    const { get, issuer } = await setUp()
    const user = await issuer.mint({ sub: 'u1', sid: 's1', scope: 'events:read' })
    expect((await get('/api/v1/events', user)).status).toBe(401)
  })
})
