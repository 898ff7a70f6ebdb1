/**
 * The realtime handshake (docs/protocol.md §5) end to end: a real JWKS issuer on
 * loopback, the real server on port 0, real socket.io clients, over both
 * transports. Every refusal is checked by its exact `connect_error`, and by
 * the user middleware never having run.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { SocketMiddleware } from '../../../realtime/admission/handshake.ts'
import { createKeySet, type KeySet } from '../../../shared/jwks/key-set.ts'
import { cleanup, startIssuer, testKey, type TestIssuer } from '../support.ts'
import {
  b64,
  nowSeconds,
  payloadOf,
  REFUSAL_DATA,
  refusedWith,
  startRecordingServer,
  TRANSPORTS,
  overTransport,
  type ClientOptions,
} from './handshake-helpers.ts'
import { until } from '../waits.ts'

afterEach(cleanup)

describe.each(TRANSPORTS)('the handshake over %s', (transport) => {
  const { open, refuse } = overTransport(transport)

  describe('a verified connection', () => {
    it('puts exactly { sub, sid, jti, name, scope, rooms, exp, kid } in socket.data.auth', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      const token = await issuer.mint({
        sub: 'u-42',
        sid: 's-42',
        name: 'dana',
        scope: 'chat:read',
        rooms: ['lobby'],
      })
      const claims = payloadOf(token)
      await open(url, { auth: { token } })
      expect(passed).toEqual([
        {
          sub: 'u-42',
          sid: 's-42',
          jti: claims.jti,
          name: 'dana',
          scope: 'chat:read',
          rooms: ['lobby'],
          exp: claims.exp,
          kid: issuer.key.kid,
        },
      ])
    })

    it('is in the server-managed rooms user:<sub> and session:<sid>', async () => {
      const issuer = await startIssuer()
      const { server, url } = await startRecordingServer(issuer)
      const socket = await open(url, {
        auth: { token: await issuer.mint({ sub: 'u-7', sid: 's-7' }) },
      })
      const rooms = server.io.of('/').adapter.rooms
      expect(rooms.get('user:u-7')).toEqual(new Set([socket.id]))
      expect(rooms.get('session:s-7')).toEqual(new Set([socket.id]))
    })

    it('accepts the token from Authorization: Bearer when auth carries none', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      const token = await issuer.mint({ sub: 'u-header' })
      await open(url, { extraHeaders: { authorization: `Bearer ${token}` } })
      expect(passed.map((a) => a.sub)).toEqual(['u-header'])
    })

    it('accepts the token from the configured cookie, and ignores cookies when none is configured', async () => {
      const issuer = await startIssuer()
      const token = await issuer.mint({ sub: 'u-cookie' })
      const cookie = { extraHeaders: { cookie: `theme=dark; rt_token=${token}` } }
      const plain = await startRecordingServer(issuer)
      expect(await refuse(plain.url, cookie)).toEqual(refusedWith('token_missing'))
      const configured = await startRecordingServer(issuer, {
        tokenSource: { cookieName: 'rt_token' },
      })
      await open(configured.url, cookie)
      expect(configured.passed.map((a) => a.sub)).toEqual(['u-cookie'])
      expect(plain.passed).toEqual([])
    })

    it('runs user middleware given as an array in order, after verification', async () => {
      const issuer = await startIssuer()
      const order: string[] = []
      const step =
        (name: string): SocketMiddleware =>
        (socket, next) => {
          order.push(`${name}:${socket.data.auth?.sub}`)
          next()
        }
      const { url } = await startRecordingServer(issuer, {
        middleware: [step('first'), step('second'), step('third')],
      })
      await open(url, { auth: { token: await issuer.mint({ sub: 'u-mw' }) } })
      expect(order).toEqual(['first:u-mw', 'second:u-mw', 'third:u-mw'])
    })

    it("runs the same chain on another namespace, with that namespace's middleware only", async () => {
      const issuer = await startIssuer()
      const { server, url, passed } = await startRecordingServer(issuer)
      const team: string[] = []
      server.use('/team', (socket, next) => {
        team.push(socket.data.auth.sub)
        next()
      })
      expect(await refuse(`${url}/team`)).toEqual(refusedWith('token_missing'))
      await open(`${url}/team`, { auth: { token: await issuer.mint({ sub: 'u-team' }) } })
      expect(team).toEqual(['u-team'])
      expect(passed).toEqual([])
    })

    it("delivers a user middleware's next(err) to the client as that connect_error, and stops the chain", async () => {
      const issuer = await startIssuer()
      let laterRan = false
      const deny: SocketMiddleware = (_socket, next) =>
        next(Object.assign(new Error('not_in_beta'), { data: { code: 'forbidden', beta: false } }))
      const later: SocketMiddleware = (_socket, next) => {
        laterRan = true
        next()
      }
      const { server, url, passed } = await startRecordingServer(issuer, {
        middleware: [deny, later],
      })
      expect(await refuse(url, { auth: { token: await issuer.mint() } })).toEqual({
        message: 'not_in_beta',
        data: { code: 'forbidden', beta: false },
      })
      expect(passed).toHaveLength(1)
      expect(laterRan).toBe(false)
      expect(server.io.of('/').sockets.size).toBe(0)
    })
  })

  describe('token_missing', () => {
    it.each<[string, ClientOptions]>([
      ['no auth at all', {}],
      ['an empty auth object', { auth: {} }],
      ['an empty auth.token', { auth: { token: '' } }],
      ['a null auth.token', { auth: { token: null } }],
    ])('refuses %s with token_missing', async (_name, options) => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      expect(await refuse(url, options)).toEqual(refusedWith('token_missing'))
      expect(passed).toEqual([])
    })

    it('adds the configured login URL as redirect to refusals whose remedy is to log in, and only to those', async () => {
      const issuer = await startIssuer()
      const { url } = await startRecordingServer(issuer, { loginUrl: 'https://app.test/login' })
      expect(await refuse(url)).toEqual({
        message: 'token_missing',
        data: { ...REFUSAL_DATA.token_missing, redirect: 'https://app.test/login' },
      })
      const expired = await issuer.mint({
        iat: nowSeconds() - 400,
        nbf: nowSeconds() - 400,
        exp: nowSeconds() - 60,
      })
      expect(await refuse(url, { auth: { token: expired } })).toEqual(refusedWith('token_expired'))
    })
  })

  describe('token_malformed', () => {
    const claims = () => ({
      iss: 'x',
      aud: 'realtime',
      sub: 'u',
      sid: 's',
      jti: 'j',
      iat: nowSeconds(),
      exp: nowSeconds() + 60,
    })
    it.each<[string, (issuer: TestIssuer) => Promise<ClientOptions>]>([
      ['a numeric auth.token', async () => ({ auth: { token: 42 } })],
      ['an object auth.token', async () => ({ auth: { token: { jws: 'a.b.c' } } })],
      ['an array auth.token', async (i) => ({ auth: { token: [await i.mint()] } })],
      ['a boolean auth.token', async () => ({ auth: { token: true } })],
      ['two segments (x.y)', async () => ({ auth: { token: 'x.y' } })],
      ['four segments', async (i) => ({ auth: { token: `${await i.mint()}.x` } })],
      [
        'a segment outside base64url',
        async (i) => ({ auth: { token: (await i.mint()).replace('.', '+.') } }),
      ],
      ['leading whitespace', async (i) => ({ auth: { token: ` ${await i.mint()}` } })],
      [
        'a signed token over 4 KiB',
        async (i) => ({ auth: { token: await i.mint({ pad: 'x'.repeat(4096) }) } }),
      ],
      [
        'a header that is not JSON',
        async () => ({ auth: { token: `${b64('not json')}.${b64(claims())}.${b64('sig')}` } }),
      ],
      [
        'a header that is a JSON array',
        async (i) => ({ auth: { token: `${b64([i.key.kid])}.${b64(claims())}.${b64('sig')}` } }),
      ],
      [
        'a signed token without kid',
        async (i) => ({ auth: { token: await i.mint({}, { header: { kid: undefined } }) } }),
      ],
      [
        'a signed token with a numeric kid',
        async (i) => ({ auth: { token: await i.mint({}, { header: { kid: 7 } }) } }),
      ],
      [
        'a signed token with an array kid',
        async (i) => ({ auth: { token: await i.mint({}, { header: { kid: [i.key.kid] } }) } }),
      ],
      [
        'a signed token with an empty kid',
        async (i) => ({ auth: { token: await i.mint({}, { header: { kid: '' } }) } }),
      ],
      [
        'an unsigned token without alg',
        async (i) => ({
          auth: { token: `${b64({ typ: 'at+jwt', kid: i.key.kid })}.${b64(claims())}.` },
        }),
      ],
      [
        'Authorization: Basic',
        async () => ({ extraHeaders: { authorization: 'Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQtMQ==' } }),
      ],
      [
        'Authorization: Token <valid JWS>',
        async (i) => ({ extraHeaders: { authorization: `Token ${await i.mint()}` } }),
      ],
      [
        'Authorization: Bearer with no token',
        async () => ({ extraHeaders: { authorization: 'Bearer' } }),
      ],
      [
        'Authorization: Bearer with two tokens',
        async (i) => ({
          extraHeaders: { authorization: `Bearer ${await i.mint()} ${await i.mint()}` },
        }),
      ],
    ])('refuses %s with token_malformed', async (_name, options) => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      expect(await refuse(url, await options(issuer))).toEqual(refusedWith('token_malformed'))
      expect(passed).toEqual([])
    })

    it('accepts a signed token just under 4 KiB', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      // Each 3 characters of the claim add 4 to the token; trim until it fits.
      const base = (await issuer.mint({ pad: '' })).length
      let pad = Math.floor(((4096 - base) * 3) / 4)
      let token = await issuer.mint({ pad: 'x'.repeat(pad) })
      while (token.length > 4096) token = await issuer.mint({ pad: 'x'.repeat(--pad) })
      expect(token.length).toBeGreaterThan(4090)
      await open(url, { auth: { token } })
      expect(passed).toHaveLength(1)
    })

    it('reads auth.token first: a malformed auth.token is not rescued by a valid Authorization header', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      const options = {
        auth: { token: 'x.y' },
        extraHeaders: { authorization: `Bearer ${await issuer.mint()}` },
      }
      expect(await refuse(url, options)).toEqual(refusedWith('token_malformed'))
      expect(passed).toEqual([])
    })
  })

  describe('token_in_query', () => {
    it('refuses a valid token sent in the query string with token_in_query', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      expect(await refuse(url, { query: { token: await issuer.mint() } })).toEqual(
        refusedWith('token_in_query'),
      )
      expect(passed).toEqual([])
    })

    it('accepts a token in the query string when allowQueryToken is set', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, {
        tokenSource: { allowQueryToken: true },
      })
      await open(url, { query: { token: await issuer.mint({ sub: 'u-query' }) } })
      expect(passed.map((a) => a.sub)).toEqual(['u-query'])
    })
  })

  describe('token_expired', () => {
    it('refuses a token expired beyond the 5 s tolerance with token_expired, retryable with a refresh', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      const now = nowSeconds()
      const token = await issuer.mint({ iat: now - 360, nbf: now - 360, exp: now - 60 })
      expect(await refuse(url, { auth: { token } })).toEqual({
        message: 'token_expired',
        data: { code: 'token_expired', retryable: true, refresh: true },
      })
      expect(passed).toEqual([])
    })

    it('accepts a token expired by only 3 s, within the 5 s tolerance', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      const now = nowSeconds()
      await open(url, {
        auth: { token: await issuer.mint({ iat: now - 303, nbf: now - 303, exp: now - 3 }) },
      })
      expect(passed).toHaveLength(1)
    })

    it('refuses that same 3 s late token when the tolerance is configured to 0', async () => {
      const issuer = await startIssuer()
      const now = nowSeconds()
      const strict = await startRecordingServer(issuer, { clockToleranceSeconds: 0 })
      const token = await issuer.mint({ iat: now - 303, nbf: now - 303, exp: now - 3 })
      expect(await refuse(strict.url, { auth: { token } })).toEqual(refusedWith('token_expired'))
    })
  })

  describe('token_revoked', () => {
    const window = () => ({ at: nowSeconds(), until: nowSeconds() + 600 })

    it('refuses a token of a revoked session, and still accepts another session of the same user', async () => {
      const issuer = await startIssuer()
      const { server, url, passed } = await startRecordingServer(issuer)
      server.revoke({ kind: 'session', id: 's-revoked', ...window() })
      const revoked = await issuer.mint({ sub: 'u-1', sid: 's-revoked' })
      expect(await refuse(url, { auth: { token: revoked } })).toEqual(refusedWith('token_revoked'))
      await open(url, { auth: { token: await issuer.mint({ sub: 'u-1', sid: 's-other' }) } })
      expect(passed.map((a) => a.sid)).toEqual(['s-other'])
    })

    it('refuses tokens of a revoked user issued at or before the event, and accepts ones issued after it', async () => {
      const issuer = await startIssuer()
      const { server, url, passed } = await startRecordingServer(issuer)
      const now = nowSeconds()
      server.revoke({ kind: 'user', id: 'u-1', at: now - 30, until: now + 600 })
      const before = await issuer.mint({ sub: 'u-1', iat: now - 60, nbf: now - 60 })
      const atEvent = await issuer.mint({ sub: 'u-1', iat: now - 30, nbf: now - 30 })
      expect(await refuse(url, { auth: { token: before } })).toEqual(refusedWith('token_revoked'))
      expect(await refuse(url, { auth: { token: atEvent } })).toEqual(refusedWith('token_revoked'))
      await open(url, {
        auth: {
          token: await issuer.mint({ sub: 'u-1', sid: 's-new', iat: now - 10, nbf: now - 10 }),
        },
      })
      expect(passed.map((a) => a.sid)).toEqual(['s-new'])
    })

    it('refuses a token signed by a revoked key, and accepts one signed by another published key', async () => {
      const issuer = await startIssuer()
      const second = await testKey()
      issuer.keys.push(second)
      const { server, url, passed } = await startRecordingServer(issuer)
      server.revoke({ kind: 'key', id: issuer.key.kid, ...window() })
      expect(await refuse(url, { auth: { token: await issuer.mint() } })).toEqual(
        refusedWith('token_revoked'),
      )
      await open(url, { auth: { token: await issuer.mint({}, { key: second }) } })
      expect(passed.map((a) => a.kid)).toEqual([second.kid])
    })

    it('refuses a token that was accepted before its session was revoked (the verified-token cache never skips revocation)', async () => {
      const issuer = await startIssuer()
      const { server, url, passed } = await startRecordingServer(issuer)
      const token = await issuer.mint({ sid: 's-cached' })
      const first = await open(url, { auth: { token } })
      first.close()
      server.revoke({ kind: 'session', id: 's-cached', ...window() })
      expect(await refuse(url, { auth: { token } })).toEqual(refusedWith('token_revoked'))
      expect(passed).toHaveLength(1)
    })
  })

  describe('origin_forbidden', () => {
    const allowed = { allowedOrigins: ['http://app.test'] }

    it.each([
      'http://evil.test',
      'https://app.test',
      'http://app.test:8080',
      'http://app.test.evil.test',
      'http://evil.test/http://app.test',
      'null',
    ])('refuses Origin %s, with a valid token, with origin_forbidden', async (origin) => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, allowed)
      const options = { auth: { token: await issuer.mint() }, extraHeaders: { origin } }
      expect(await refuse(url, options)).toEqual(refusedWith('origin_forbidden'))
      expect(passed).toEqual([])
    })

    it('checks the Origin before the token: a forbidden origin without a token is origin_forbidden', async () => {
      const issuer = await startIssuer()
      const { url } = await startRecordingServer(issuer, allowed)
      expect(await refuse(url, { extraHeaders: { origin: 'http://evil.test' } })).toEqual(
        refusedWith('origin_forbidden'),
      )
    })

    it('accepts an allowed Origin, and a handshake with no Origin at all', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, allowed)
      await open(url, {
        auth: { token: await issuer.mint({ sub: 'u-browser' }) },
        extraHeaders: { origin: 'http://app.test' },
      })
      await open(url, { auth: { token: await issuer.mint({ sub: 'u-service' }) } })
      expect(passed.map((a) => a.sub)).toEqual(['u-browser', 'u-service'])
    })
  })

  describe('rate_limited', () => {
    // A frozen server clock: the bucket cannot refill between handshakes, however slow the machine.
    const frozen = () => {
      const t0 = Date.now()
      return () => t0
    }

    it('refuses the third quick connection from one address at 1/s with burst 2, with retryAfterMs', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, {
        limits: { ratePerSecond: 1, burst: 2 },
        now: frozen(),
      })
      await open(url, { auth: { token: await issuer.mint({ sid: 's-1' }) } })
      await open(url, { auth: { token: await issuer.mint({ sid: 's-2' }) } })
      expect(await refuse(url, { auth: { token: await issuer.mint({ sid: 's-3' }) } })).toEqual({
        message: 'rate_limited',
        data: { code: 'rate_limited', retryable: true, refresh: false, retryAfterMs: 1000 },
      })
      expect(passed.map((a) => a.sid)).toEqual(['s-1', 's-2'])
    })

    it('applies the connection rate before any token work: a tokenless handshake over the limit is rate_limited', async () => {
      const issuer = await startIssuer()
      const { url } = await startRecordingServer(issuer, {
        limits: { ratePerSecond: 1, burst: 1 },
        now: frozen(),
      })
      expect(await refuse(url)).toEqual(refusedWith('token_missing'))
      expect(await refuse(url)).toEqual({
        message: 'rate_limited',
        data: { ...REFUSAL_DATA.rate_limited, retryAfterMs: 1000 },
      })
    })

    it('caps open connections per user, admits other users, and admits the user again once one closes', async () => {
      const issuer = await startIssuer()
      const { server, url, passed } = await startRecordingServer(issuer, { limits: { perUser: 1 } })
      const first = await open(url, {
        auth: { token: await issuer.mint({ sub: 'u-1', sid: 's-1' }) },
      })
      expect(
        await refuse(url, { auth: { token: await issuer.mint({ sub: 'u-1', sid: 's-2' }) } }),
      ).toEqual({
        message: 'rate_limited',
        data: { ...REFUSAL_DATA.rate_limited, retryAfterMs: 1000 },
      })
      await open(url, { auth: { token: await issuer.mint({ sub: 'u-2', sid: 's-3' }) } })
      first.close()
      await until(() => server.io.of('/').adapter.rooms.get('user:u-1') === undefined, {
        what: 'the server to see u-1 leave',
        timeoutMs: 10_000,
      })
      await open(url, { auth: { token: await issuer.mint({ sub: 'u-1', sid: 's-4' }) } })
      expect(passed.map((a) => a.sid)).toEqual(['s-1', 's-3', 's-4'])
    })

    it('writes the identity to socket.data once and keeps no copy of the verified claims or token on the socket', async () => {
      const issuer = await startIssuer()
      const { server, url } = await startRecordingServer(issuer)
      const token = await issuer.mint({ sub: 'u-1', sid: 's-1' })
      await open(url, { auth: { token } })
      const [socket] = server.io.of('/').sockets.values()
      expect(Object.keys(socket!.data).sort()).toEqual(['auth', 'iat'])
      expect(socket!.data.auth).toMatchObject({ sub: 'u-1', sid: 's-1' })
      expect(JSON.stringify(socket!.data)).not.toContain(token)
      expect('decoded_token' in socket!).toBe(false)
    })

    it('holds the per-user cap against handshakes of one user that finish verifying together', async () => {
      const issuer = await startIssuer()
      // The real key set, held at a gate so that all six handshakes are inside verification at once.
      const real = createKeySet({ jwksUrl: issuer.jwksUrl, issuer: issuer.url })
      let verifying = 0
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const keySet: KeySet = {
        ...real,
        // Every handshake takes the asynchronous path, where it waits at the gate.
        peek: () => undefined,
        resolve: async (kid) => {
          verifying++
          await gate
          return real.resolve(kid)
        },
      }
      const { server, url } = await startRecordingServer(issuer, { keySet, limits: { perUser: 2 } })
      const tokens = await Promise.all(
        Array.from({ length: 6 }, (_, i) => issuer.mint({ sub: 'u-1', sid: `s-${i}` })),
      )
      const outcomes = Promise.all(
        tokens.map((token) =>
          open(url, { auth: { token } }).then(
            () => 'connected',
            (err: Error & { data?: { code?: string } }) => err.data?.code,
          ),
        ),
      )
      await until(() => verifying === 6, {
        what: 'six handshakes inside verification',
        timeoutMs: 10_000,
      })
      release()
      expect((await outcomes).sort()).toEqual([
        'connected',
        'connected',
        'rate_limited',
        'rate_limited',
        'rate_limited',
        'rate_limited',
      ])
      expect(server.io.of('/').adapter.rooms.get('user:u-1')?.size).toBe(2)
    })
  })
})
