/**
 * The realtime server's key set seen through the handshake: readiness,
 * outages of the issuer, key rotation, stale-if-error, and the real edge
 * (under wrangler dev) as the issuer. Unit behaviour of the key set itself is
 * in key-set.test.ts; here it is the running server and real HTTP.
 */
import { decodeProtectedHeader, decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import type { RealtimeServer } from '../../../realtime/server.ts'
import { cleanup, connect, startIssuer, testKey } from '../support.ts'
import {
  movableClock,
  refusedWith,
  startRecordingServer,
  TRANSPORTS,
  overTransport,
} from '../admission/handshake-helpers.ts'
import { until } from '../waits.ts'

afterEach(cleanup)

/** JWKS fetches the server counted with `outcome`. */
async function jwksFetches(server: RealtimeServer, outcome: 'ok' | 'error'): Promise<number> {
  const metric = await server.metrics.jwksFetches.get()
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0
}

describe('GET /readyz', () => {
  it('is 503 with reasons while the keys cannot be loaded, and 200 once the issuer answers', async () => {
    const issuer = await startIssuer()
    issuer.down = true
    const { url } = await startRecordingServer(issuer)
    const notReady = await fetch(`${url}/readyz`)
    expect(notReady.status).toBe(503)
    expect(notReady.headers.get('cache-control')).toBe('no-store')
    expect(await notReady.json()).toEqual({
      ready: false,
      reasons: ['signing keys not loaded from the edge'],
    })
    issuer.down = false
    // The server retries loading every 2 s.
    await until(async () => (await fetch(`${url}/readyz`)).status === 200, {
      what: 'readyz to turn 200',
      timeoutMs: 10_000,
    })
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ready: true })
  })

  it('turns ready again on readiness probes alone, with no handshake, once keys that aged out can be fetched', async () => {
    const issuer = await startIssuer()
    issuer.maxAge = 1
    const clock = movableClock()
    const { server, url } = await startRecordingServer(issuer, {
      now: clock.now,
      jwks: { maxStaleMs: 5_000 },
    })
    const fetchesBefore = issuer.fetches
    // An idle node: no handshake arrives while its keys pass max-age and the stale window.
    clock.advance(60_000)
    expect(server.notReadyReasons()).toEqual(['signing keys not loaded from the edge'])
    // A load balancer sends no handshakes to a node that is not ready; its probes are all it gets.
    await until(async () => (await fetch(`${url}/readyz`)).status === 200, {
      what: 'readyz to turn 200',
      timeoutMs: 10_000,
    })
    expect(issuer.fetches).toBeGreaterThan(fetchesBefore)
  })
})

describe.each(TRANSPORTS)('the key set behind the handshake over %s', (transport) => {
  const { open, refuse } = overTransport(transport)

  describe('unavailable', () => {
    it('refuses with unavailable while the issuer is down and no keys were ever loaded, and accepts once they are', async () => {
      const issuer = await startIssuer()
      issuer.down = true
      const { server, url, passed } = await startRecordingServer(issuer)
      expect(await refuse(url, { auth: { token: await issuer.mint() } })).toEqual(
        refusedWith('unavailable'),
      )
      expect(passed).toEqual([])
      issuer.down = false
      await until(() => server.notReadyReasons().length === 0, {
        what: 'the keys to load',
        timeoutMs: 10_000,
      })
      await open(url, { auth: { token: await issuer.mint() } })
      expect(passed).toHaveLength(1)
    })

    it('refuses an unknown kid with unavailable when the refetch fails, and still accepts known kids', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, { jwks: { cooldownMs: 0 } })
      issuer.down = true
      const unknown = await issuer.mint({}, { key: await testKey() })
      const fetchesBefore = issuer.fetches
      expect(await refuse(url, { auth: { token: unknown } })).toEqual(refusedWith('unavailable'))
      expect(issuer.fetches).toBe(fetchesBefore + 1)
      await open(url, { auth: { token: await issuer.mint({ sub: 'u-known' }) } })
      expect(passed.map((a) => a.sub)).toEqual(['u-known'])
    })
  })

  describe('key rotation', () => {
    it('accepts a token signed by a key published after the keys were cached, after exactly one refetch', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, { jwks: { cooldownMs: 0 } })
      const fetchesBefore = issuer.fetches
      const rotated = await testKey()
      issuer.keys.push(rotated)
      await open(url, { auth: { token: await issuer.mint({ sid: 's-new' }, { key: rotated }) } })
      expect(issuer.fetches).toBe(fetchesBefore + 1)
      await open(url, { auth: { token: await issuer.mint({ sid: 's-old' }) } })
      expect(issuer.fetches).toBe(fetchesBefore + 1)
      expect(passed.map((a) => [a.sid, a.kid])).toEqual([
        ['s-new', rotated.kid],
        ['s-old', issuer.key.kid],
      ])
    })

    it('after an unknown-kid refetch, refuses a newly published kid with token_invalid within the cooldown, and accepts it once the cooldown has passed', async () => {
      const issuer = await startIssuer()
      const clock = movableClock()
      const { url, passed } = await startRecordingServer(issuer, {
        jwks: { cooldownMs: 60_000 },
        now: clock.now,
      })
      const fetchesBefore = issuer.fetches
      // A kid nobody published spends the refetch (a routine load does not: issue 14).
      expect(
        await refuse(url, { auth: { token: await issuer.mint({}, { key: await testKey() }) } }),
      ).toEqual(refusedWith('token_invalid'))
      expect(issuer.fetches).toBe(fetchesBefore + 1)
      const rotated = await testKey()
      issuer.keys.push(rotated)
      expect(
        await refuse(url, { auth: { token: await issuer.mint({}, { key: rotated }) } }),
      ).toEqual(refusedWith('token_invalid'))
      expect(issuer.fetches).toBe(fetchesBefore + 1)
      clock.advance(60_001)
      await open(url, { auth: { token: await issuer.mint({}, { key: rotated }) } })
      expect(issuer.fetches).toBe(fetchesBefore + 2)
      expect(passed.map((a) => a.kid)).toEqual([rotated.kid])
    })
  })

  describe('stale-if-error', () => {
    it('keeps accepting known kids after the keys expire while the issuer answers 503', async () => {
      const issuer = await startIssuer()
      issuer.maxAge = 1
      const clock = movableClock()
      const { server, url, passed } = await startRecordingServer(issuer, { now: clock.now })
      issuer.down = true
      clock.advance(30_000)
      const fetchesBefore = issuer.fetches
      await open(url, { auth: { token: await issuer.mint({ sid: 's-stale-1' }) } })
      // The expired keys were revalidated in the background, and the issuer refused.
      await until(() => issuer.fetches > fetchesBefore, {
        what: 'a revalidation attempt',
        timeoutMs: 10_000,
      })
      await until(async () => (await jwksFetches(server, 'error')) >= 1, {
        what: 'the failed fetch to be counted',
        timeoutMs: 10_000,
      })
      await open(url, { auth: { token: await issuer.mint({ sid: 's-stale-2' }) } })
      expect(passed.map((a) => a.sid)).toEqual(['s-stale-1', 's-stale-2'])
      expect(server.notReadyReasons()).toEqual([])
    })

    it('refuses with unavailable, and reports not ready, once the keys are past the stale window', async () => {
      const issuer = await startIssuer()
      issuer.maxAge = 1
      const clock = movableClock()
      const { server, url, passed } = await startRecordingServer(issuer, {
        now: clock.now,
        jwks: { maxStaleMs: 5_000 },
      })
      issuer.down = true
      clock.advance(60_000)
      expect(await refuse(url, { auth: { token: await issuer.mint() } })).toEqual(
        refusedWith('unavailable'),
      )
      expect(passed).toEqual([])
      const readyz = await fetch(`${url}/readyz`)
      expect(readyz.status).toBe(503)
      expect(server.notReadyReasons()).toEqual(['signing keys not loaded from the edge'])
    })
  })
})

describe('with the real edge under wrangler dev as the issuer', () => {
  let edge: SeededEdge

  beforeAll(async () => {
    // An hour-long token lets the realtime clock pass the JWKS max-age (300 s) while tokens stay valid.
    edge = await startSeededEdge({ ACCESS_TOKEN_TTL: '3600' })
  })

  afterAll(async () => {
    await edge?.stop()
  })

  async function login(username: string, password: string): Promise<string> {
    return (await edge.login(username, password)).access_token
  }

  it.each(TRANSPORTS)(
    "accepts alice's login token over %s, with socket.data.auth and rooms from its claims",
    async (transport) => {
      const { server, url, passed } = await startRecordingServer({ url: edge.url })
      const token = await login('alice', 'alice-password-1')
      const claims = decodeJwt(token)
      const socket = await connect(url, { transports: [transport], auth: { token } })
      expect(passed).toEqual([
        {
          sub: claims.sub,
          sid: claims.sid,
          jti: claims.jti,
          name: 'alice',
          scope: 'chat:read chat:write',
          rooms: ['lobby', 'team:a:*'],
          exp: claims.exp,
          kid: decodeProtectedHeader(token).kid,
        },
      ])
      expect(claims.sub).not.toBe('alice')
      const rooms = server.io.of('/').adapter.rooms
      expect(rooms.get(`user:${claims.sub}`)).toEqual(new Set([socket.id]))
      expect(rooms.get(`session:${claims.sid}`)).toEqual(new Set([socket.id]))
    },
  )

  // Stops the edge: keep this the last test of the file.
  it('keeps accepting new handshakes with cached keys after the edge goes down, past the keys max-age', async () => {
    const clock = movableClock()
    const { server, url, passed } = await startRecordingServer(
      { url: edge.url },
      { now: clock.now },
    )
    await connect(url, { auth: { token: await login('bob', 'bob-password-1') } })
    // Fresh tokens (never seen by the server, so no verified-token cache) from before the outage.
    const later = [await login('bob', 'bob-password-1'), await login('carol', 'carol-password-1')]
    await edge.stop()
    clock.advance(600_000)
    const errorsBefore = await jwksFetches(server, 'error')
    await connect(url, { transports: ['websocket'], auth: { token: later[0] } })
    await until(async () => (await jwksFetches(server, 'error')) > errorsBefore, {
      what: 'a failed revalidation against the stopped edge',
      timeoutMs: 10_000,
    })
    await connect(url, { transports: ['polling'], auth: { token: later[1] } })
    expect(passed.map((a) => a.name)).toEqual(['bob', 'bob', 'carol'])
    expect(server.notReadyReasons()).toEqual([])
  })
})
