/**
 * The edge's revocation pushes (docs/protocol.md §6) as the realtime node receives
 * them: only a `revocation+jwt` signed by a key of the edge's JWKS, for
 * `realtime-internal`, living at most 60 s, seen once, carrying well-formed
 * events, is accepted. Unit tests use a fixed clock; the HTTP tests run a
 * real server and a real socket.
 */
import { base64url, createLocalJWKSet, SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import type { RevocationEvent } from '../../../shared/claims.ts'
import { AppError } from '../../../shared/errors.ts'
import { createPushReceiver } from '../../../realtime/revocations/push-receiver.ts'
import type { RealtimeServer } from '../../../realtime/server.ts'
import {
  cleanup,
  connect,
  envelope,
  startIssuer,
  startServer,
  testKey,
  type TestIssuer,
  type TestKey,
} from '../support.ts'
import { disconnection, request, timeline } from '../waits.ts'

afterEach(cleanup)

/** The fixed clock of the unit tests, ms. */
const NOW_MS = 1_763_800_000_000
const NOW = NOW_MS / 1000

const EVENTS: RevocationEvent[] = [
  { cursor: 7, kind: 'session', id: 'sid-1', at: NOW - 1, until: NOW + 299 },
  { cursor: 8, kind: 'user', id: 'sub-1', at: NOW, until: NOW + 300 },
]

/** Claims and header of a push token, each overridable or removable (undefined). */
interface PushOverrides {
  claims?: Record<string, unknown>
  header?: Record<string, unknown>
  key?: TestKey
}

/** Sign a push as the edge does (edge/revocations/push.ts), at `nowSeconds`. */
async function signPush(
  issuer: TestIssuer,
  overrides: PushOverrides = {},
  nowSeconds = NOW,
): Promise<string> {
  const key = overrides.key ?? issuer.key
  const claims: Record<string, unknown> = {
    iss: issuer.url,
    aud: 'realtime-internal',
    jti: `push-${Math.random().toString(36).slice(2)}`,
    iat: nowSeconds,
    exp: nowSeconds + 60,
    events: EVENTS,
    ...overrides.claims,
  }
  const header: Record<string, unknown> = {
    alg: 'ES256',
    typ: 'revocation+jwt',
    kid: issuer.key.kid,
    ...overrides.header,
  }
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k]
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k]
  return new SignJWT(claims).setProtectedHeader(header as never).sign(key.privateKey)
}

/** A receiver that trusts `issuer`'s published keys, on the fixed clock. */
function receiverFor(issuer: TestIssuer) {
  return createPushReceiver({
    getKey: createLocalJWKSet({ keys: issuer.keys.map((k) => k.publicJwk) }),
    issuer: issuer.url,
    now: () => NOW_MS,
  })
}

describe('createPushReceiver', () => {
  it('yields the events of a valid push', async () => {
    const issuer = await startIssuer()
    const receive = receiverFor(issuer)
    expect(await receive({ token: await signPush(issuer) })).toEqual(EVENTS)
  })

  it('refuses a replay of a push it has accepted (same jti)', async () => {
    const issuer = await startIssuer()
    const receive = receiverFor(issuer)
    const token = await signPush(issuer)
    await receive({ token })
    await expect(receive({ token })).rejects.toMatchObject({ code: 'unauthorized' })
  })

  it('refuses a second push that reuses an accepted jti, even freshly signed', async () => {
    const issuer = await startIssuer()
    const receive = receiverFor(issuer)
    await receive({ token: await signPush(issuer, { claims: { jti: 'push-once' } }) })
    await expect(
      receive({ token: await signPush(issuer, { claims: { jti: 'push-once' } }) }),
    ).rejects.toMatchObject({
      code: 'unauthorized',
    })
  })

  it("refuses with unavailable, not unauthorized, when the edge's keys cannot be fetched", async () => {
    const issuer = await startIssuer()
    const receive = createPushReceiver({
      getKey: async () => {
        throw new AppError('unavailable', 'key set unreachable')
      },
      issuer: issuer.url,
      now: () => NOW_MS,
    })
    await expect(receive({ token: await signPush(issuer) })).rejects.toMatchObject({
      code: 'unavailable',
    })
  })

  it('a forged push carrying a real jti must not burn that jti', async () => {
    const issuer = await startIssuer()
    const attacker = await testKey('ES256', issuer.key.kid)
    const receive = receiverFor(issuer)
    await expect(
      receive({ token: await signPush(issuer, { key: attacker, claims: { jti: 'push-real' } }) }),
    ).rejects.toMatchObject({
      code: 'unauthorized',
    })
    expect(
      await receive({ token: await signPush(issuer, { claims: { jti: 'push-real' } }) }),
    ).toEqual(EVENTS)
  })

  const refused: [string, (issuer: TestIssuer) => Promise<string>][] = [
    ['an expired push', (i) => signPush(i, { claims: { iat: NOW - 120, exp: NOW - 60 } })],
    [
      'a push living longer than 60 s (exp - iat = 61)',
      (i) => signPush(i, { claims: { exp: NOW + 61 } }),
    ],
    [
      'a push issued long ago that has not expired',
      (i) => signPush(i, { claims: { iat: NOW - 100, exp: NOW + 10 } }),
    ],
    [
      'an access token (typ at+jwt) sent as a push',
      (i) => signPush(i, { header: { typ: 'at+jwt' } }),
    ],
    ['a push without typ', (i) => signPush(i, { header: { typ: undefined } })],
    [
      'a push for the wrong audience (realtime)',
      (i) => signPush(i, { claims: { aud: 'realtime' } }),
    ],
    ['a push from another issuer', (i) => signPush(i, { claims: { iss: 'https://evil.example' } })],
    [
      'a push signed by an attacker key that copies the edge kid',
      async (i) => signPush(i, { key: await testKey('ES256', i.key.kid) }),
    ],
    ['a push with alg none', (i) => unsignedPush(i)],
    ['a push without jti', (i) => signPush(i, { claims: { jti: undefined } })],
    ['a push without iat', (i) => signPush(i, { claims: { iat: undefined } })],
    ['a push without events', (i) => signPush(i, { claims: { events: undefined } })],
    [
      'a push whose events are not a list',
      (i) => signPush(i, { claims: { events: 'session:sid-1' } }),
    ],
    [
      'a push with an event of an unknown kind',
      (i) => signPush(i, { claims: { events: [{ ...EVENTS[0], kind: 'everyone' }] } }),
    ],
    [
      'a push with an event without an id',
      (i) => signPush(i, { claims: { events: [{ ...EVENTS[0], id: '' }] } }),
    ],
    [
      'a push with an event without a cursor',
      (i) => signPush(i, { claims: { events: [{ ...EVENTS[0], cursor: undefined }] } }),
    ],
  ]
  it.each(refused)('refuses %s as unauthorized', async (_name, make) => {
    const issuer = await startIssuer()
    const receive = receiverFor(issuer)
    const failure = await receive({ token: await make(issuer) }).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(failure).toBeInstanceOf(AppError)
    expect(failure).toMatchObject({ code: 'unauthorized' })
  })

  it.each([
    ['an empty object', {}],
    ['a numeric token', { token: 1 }],
    ['null', null],
    ['a bare string', 'eyJ...'],
    ['an unknown key beside the token', { token: 'a.b.c', extra: true }],
  ])('refuses a malformed body (%s) as invalid_request', async (_name, body) => {
    const issuer = await startIssuer()
    await expect(receiverFor(issuer)(body)).rejects.toMatchObject({ code: 'invalid_request' })
  })
})

describe('POST /internal/revocations', () => {
  it('disconnects the sockets of a pushed session with rt:error token_revoked and leaves others connected', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const revoked = await connect(url, {
      auth: { token: await issuer.mint({ sid: 'session-pushed' }) },
    })
    const other = await connect(url, {
      auth: { token: await issuer.mint({ sid: 'session-other' }) },
    })
    const seen = timeline(revoked)
    const gone = disconnection(revoked)
    const token = await sessionPush(issuer, 'session-pushed')

    const res = await post(url, { token })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ applied: 1 })
    expect(await gone).toBe('io server disconnect')
    expect(seen).toEqual([
      ['rt:error', expect.objectContaining({ code: 'token_revoked' })],
      ['disconnect', 'io server disconnect'],
    ])
    expect(await request(other, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
  })

  it('answers 401 to a forged push and leaves the session connected', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sid: 'session-target' }) },
    })
    const seen = timeline(socket)
    const now = Math.floor(Date.now() / 1000)
    const forged = await signPush(
      issuer,
      {
        key: await testKey('ES256', issuer.key.kid),
        claims: {
          events: [{ cursor: 1, kind: 'session', id: 'session-target', at: now, until: now + 300 }],
        },
      },
      now,
    )

    const res = await post(url, { token: forged })
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: 'unauthorized', error_description: 'push refused' })
    // A round trip after the refusal: had the push been applied, the socket would be gone by now.
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(socket.connected).toBe(true)
    expect(seen).toEqual([])
  })

  it('answers 503 unavailable to a valid push while the JWKS is unreachable, and applies nothing', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sid: 'session-target' }) },
    })
    // The edge signs with a key this node has not fetched yet, and its JWKS is
    // down: the push cannot be judged, which is an outage, not a forgery.
    const rotated = await testKey()
    issuer.keys.push(rotated)
    issuer.down = true
    const now = Math.floor(Date.now() / 1000)
    const push = await signPush(
      issuer,
      {
        key: rotated,
        header: { kid: rotated.kid },
        claims: {
          events: [{ cursor: 1, kind: 'session', id: 'session-target', at: now, until: now + 300 }],
        },
      },
      now,
    )
    const res = await post(url, { token: push })
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      error: 'unavailable',
      error_description: 'signing keys unavailable',
    })
    expect(socket.connected).toBe(true)
  })

  it('answers 400 invalid_request to a body that is not { token }', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const res = await post(url, { token: 1 })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: 'body must be { token }',
    })
  })
})

describe('POST /internal/revocations bounds (hardening: issue 15 item 7)', () => {
  // A frozen server clock: the per-address bucket cannot refill between requests.
  const frozen = () => {
    const t0 = Date.now()
    return () => t0
  }
  const pushes = (server: RealtimeServer) =>
    server.metrics.registry.getSingleMetricAsString('realtime_revocation_pushes_total')

  it('answers 413 payload_too_large to a body over 64 KiB, without verifying it', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer)
    const res = await post(url, { token: 'x'.repeat(64 * 1024) })
    expect(res.status).toBe(413)
    expect(await res.json()).toEqual({ error: 'payload_too_large' })
    expect(await pushes(server)).toContain(
      'realtime_revocation_pushes_total{outcome="payload_too_large"} 1',
    )
  })

  it('accepts a genuine push of 100 events (the edge batch), well under the bound', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const now = Math.floor(Date.now() / 1000)
    const events = Array.from({ length: 100 }, (_, n) => ({
      cursor: n + 1,
      kind: 'session',
      id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
      at: now,
      until: now + 300,
    }))
    const res = await post(url, { token: await signPush(issuer, { claims: { events } }, now) })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ applied: 100 })
  })

  it('answers 429 rate_limited with Retry-After past the per-address burst, before reading the body', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, { now: frozen() })
    const statuses: number[] = []
    for (let i = 0; i < 50; i++) statuses.push((await post(url, { token: 1 })).status)
    expect(new Set(statuses)).toEqual(new Set([400]))
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sid: 'session-late' }) },
    })
    const genuine = await sessionPush(issuer, 'session-late')
    const res = await post(url, { token: genuine })
    expect(res.status).toBe(429)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await res.json()).toEqual({ error: 'rate_limited' })
    // Refused unread: the push was not applied.
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    expect(await pushes(server)).toContain(
      'realtime_revocation_pushes_total{outcome="rate_limited"} 1',
    )
  })
})

/** A push, signed now by the issuer's key, revoking session `sid`. */
async function sessionPush(issuer: TestIssuer, sid: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const events = [{ cursor: 1, kind: 'session', id: sid, at: now, until: now + 300 }]
  return signPush(issuer, { claims: { events } }, now)
}

/** An unsecured JWS (`alg: none`) with the push's claims. */
async function unsignedPush(issuer: TestIssuer): Promise<string> {
  const header = { alg: 'none', typ: 'revocation+jwt', kid: issuer.key.kid }
  const claims = {
    iss: issuer.url,
    aud: 'realtime-internal',
    jti: 'push-none',
    iat: NOW,
    exp: NOW + 60,
    events: EVENTS,
  }
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(claims))}.`
}

function post(url: string, body: unknown): Promise<Response> {
  return fetch(`${url}/internal/revocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}
