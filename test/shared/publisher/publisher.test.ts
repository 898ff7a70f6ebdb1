/**
 * The publisher against a real realtime server on loopback. The edge's
 * token endpoint is stood in for by a loopback server minting service
 * tokens with the test issuer (the cluster test uses the real edge).
 */
import { createServer } from 'node:http'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createPublisher,
  PublisherError,
  type PublisherOptions,
} from '../../../shared/publisher/index.ts'
import { serviceToken } from '../../realtime/api/service.ts'
import {
  cleanup,
  connect,
  next,
  startIssuer,
  startServer,
  type TestIssuer,
} from '../../realtime/support.ts'
import { record } from '../../realtime/waits.ts'

afterEach(cleanup)

const CLIENT = { clientId: 'svc pub', clientSecret: 's3cret:+/é' }

/** A stand-in token endpoint: Basic auth for CLIENT, a service token with `scope` living `ttl` seconds. */
async function tokenEndpoint(issuer: TestIssuer, options: { scope?: string; ttl?: number } = {}) {
  const seen: { authorization: string | undefined; body: string }[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', async () => {
      seen.push({ authorization: req.headers.authorization, body })
      const expected = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT.clientId).replace(/%20/g, '+')}:${new URLSearchParams({ v: CLIENT.clientSecret }).toString().slice(2)}`).toString('base64')}`
      if (req.url !== '/auth/token' || req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic' })
        res.end(
          JSON.stringify({
            error: 'invalid_client',
            error_description: 'client authentication failed',
          }),
        )
        return
      }
      const ttl = options.ttl ?? 300
      const now = Math.floor(Date.now() / 1000)
      const token = await serviceToken(issuer, {
        client_id: CLIENT.clientId,
        scope: options.scope ?? 'publish disconnect',
        exp: now + ttl,
        jti: `j-${seen.length}`,
      })
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(
        JSON.stringify({
          access_token: token,
          token_type: 'Bearer',
          expires_in: ttl,
          scope: 'publish disconnect',
        }),
      )
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) }
}

async function setUp(
  options: { scope?: string; ttl?: number; server?: Parameters<typeof startServer>[1] } = {},
) {
  const issuer = await startIssuer()
  const { url } = await startServer(issuer, options.server)
  const edge = await tokenEndpoint(issuer, options)
  const alice = await connect(url, {
    auth: { token: await issuer.mint({ sub: 'alice', sid: 's-a' }) },
  })
  const make = (extra: Partial<PublisherOptions> = {}) =>
    createPublisher({ edgeUrl: edge.url, realtimeUrl: url, ...CLIENT, ...extra })
  return { issuer, url, edge, alice, make }
}

describe('createPublisher', () => {
  it('gets one service token by client credentials (form, Basic) for many publishes, and delivers each', async () => {
    const { edge, alice, make } = await setUp()
    const publisher = make()
    const seen = record(alice, 'note')
    const answers = await Promise.all(
      [1, 2, 3].map((n) =>
        publisher.publish({ to: { user: 'alice' }, event: 'note', data: { n } }),
      ),
    )
    expect(answers).toEqual(
      [1, 2, 3].map(() => ({ id: expect.any(String), offset: expect.any(String) })),
    )
    expect(edge.seen).toHaveLength(1)
    expect(edge.seen[0]!.body).toBe('grant_type=client_credentials')
    const last = next(alice, 'marker')
    await publisher.publish({ to: { user: 'alice' }, event: 'marker', data: null })
    await last
    expect(seen.map((p) => p.data.n).sort()).toEqual([1, 2, 3])
    expect(await publisher.disconnect({ session: 's-none' })).toEqual({ id: expect.any(String) })
  })

  it('renews the token before it expires, with one request however many callers wait', async () => {
    let now = Date.now()
    const { edge, make } = await setUp({ ttl: 100 })
    const publisher = make({ now: () => now })
    await publisher.publish({ to: { room: 'lobby' }, event: 'note', data: 1 })
    now += 70_000
    await publisher.publish({ to: { room: 'lobby' }, event: 'note', data: 2 })
    expect(edge.seen).toHaveLength(1)
    // Within the last fifth of its life: renewed, once for five callers.
    now += 11_000
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        publisher.publish({ to: { room: 'lobby' }, event: 'note', data: n }),
      ),
    )
    expect(edge.seen).toHaveLength(2)
  })

  it('retries a publish whose answer was lost with the same id: delivered once, answered as the first time', async () => {
    const { alice, make } = await setUp()
    let calls = 0
    const bodies: string[] = []
    const lossy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init)
      if (String(input).endsWith('/api/v1/publish')) {
        bodies.push(String(init?.body))
        if (++calls === 1) throw new TypeError('fetch failed: connection reset')
      }
      return res
    }
    const waits: number[] = []
    const publisher = make({ fetch: lossy, sleep: async (ms) => void waits.push(ms) })
    const seen = record(alice, 'note')
    const answer = await publisher.publish({ to: { user: 'alice' }, event: 'note', data: 'once' })
    expect(bodies).toHaveLength(2)
    expect(bodies[1]).toBe(bodies[0])
    expect(JSON.parse(bodies[0]!).id).toBe(answer.id)
    expect(waits).toHaveLength(1)
    const marker = next(alice, 'marker')
    await publisher.publish({ to: { user: 'alice' }, event: 'marker', data: null })
    await marker
    expect(seen).toEqual([
      {
        id: answer.id,
        from: 'svc pub',
        ts: expect.any(Number),
        data: 'once',
        offset: answer.offset,
      },
    ])
  })

  it('waits out a 429 for its Retry-After, then succeeds', async () => {
    // One request per 4 s: at 1/s, a second on a loaded machine between the two publishes would
    // refill the bucket, and there would be no 429 to wait out.
    const { make } = await setUp({
      server: { serverApi: { rate: { perSecond: 0.25, burst: 1 } } },
    })
    const waits: number[] = []
    const publisher = make({
      sleep: (ms) => (waits.push(ms), new Promise((r) => setTimeout(r, ms))),
    })
    await publisher.publish({ to: { room: 'lobby' }, event: 'note', data: 1 })
    await publisher.publish({ to: { room: 'lobby' }, event: 'note', data: 2 })
    expect(waits[0]).toBeGreaterThanOrEqual(1000)
  })

  it('throws typed errors with the contract codes and does not retry what cannot succeed', async () => {
    const { edge, make } = await setUp({ scope: 'disconnect' })
    const attempts = () => edge.seen.length
    const fail = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (err: unknown) => err,
      )
    const forbidden = await fail(make().publish({ to: { user: 'alice' }, event: 'note', data: 1 }))
    expect(forbidden).toBeInstanceOf(PublisherError)
    expect(forbidden).toMatchObject({ code: 'forbidden', status: 403 })
    const invalid = await fail(make().disconnect({ user: '' }))
    expect(invalid).toMatchObject({ code: 'envelope_invalid', status: 400 })
    const before = attempts()
    const badClient = await fail(
      make({ clientSecret: 'wrong' }).publish({ to: { user: 'alice' }, event: 'note', data: 1 }),
    )
    expect(badClient).toMatchObject({ code: 'invalid_client', status: 401 })
    expect(attempts()).toBe(before + 1)
    const down = await fail(
      make({ realtimeUrl: 'http://127.0.0.1:9', maxAttempts: 2, sleep: async () => {} }).publish({
        to: { user: 'a' },
        event: 'note',
        data: 1,
      }),
    )
    expect(down).toMatchObject({ code: 'network' })
  })
})
