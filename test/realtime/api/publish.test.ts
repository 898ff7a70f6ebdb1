import { afterEach, describe, expect, it } from 'vitest'
import {
  cleanup,
  connect,
  envelope,
  next,
  refusal,
  startIssuer,
  startServer,
  type TestIssuer,
} from '../support.ts'
import { record, request } from '../waits.ts'
import { post, serviceToken } from './service.ts'
import { NotificationTracker } from '../../../shared/client/notifications.ts'

afterEach(cleanup)

async function setUp(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, options)
  const userSocket = (sub: string, sid: string) =>
    issuer.mint({ sub, sid }).then((token) => connect(url, { auth: { token } }))
  return { issuer, server, url, userSocket, token: await serviceToken(issuer) }
}

/** Publish a marker to `to` and wait for it on `socket`: everything published before it to that socket has arrived. */
async function drained(
  url: string,
  token: string,
  to: object,
  socket: Awaited<ReturnType<typeof connect>>,
) {
  const marker = next(socket, 'test.marker')
  expect(
    (await post(url, '/api/v1/publish', { to, event: 'test.marker', data: null }, token)).status,
  ).toBe(202)
  await marker
}

describe('POST /api/v1/publish', () => {
  it("reaches both of alice's sockets exactly once with { id, from, ts, data, offset }, and not bob's", async () => {
    const { url, userSocket, token } = await setUp()
    const [a1, a2, b] = await Promise.all([
      userSocket('alice', 's-a1'),
      userSocket('alice', 's-a2'),
      userSocket('bob', 's-b'),
    ])
    const [seen1, seen2, seenBob] = [
      record(a1, 'order.shipped'),
      record(a2, 'order.shipped'),
      record(b, 'order.shipped'),
    ]

    const reply = await post(
      url,
      '/api/v1/publish',
      { to: { user: 'alice' }, event: 'order.shipped', data: { order: 42 } },
      token,
    )
    expect(reply.status).toBe(202)
    expect(reply.headers.get('cache-control')).toBe('no-store')
    expect(reply.body).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
      offset: expect.any(String),
    })

    await Promise.all([
      drained(url, token, { user: 'alice' }, a1),
      drained(url, token, { user: 'alice' }, a2),
      drained(url, token, { user: 'bob' }, b),
    ])
    const delivered = {
      id: reply.body.id,
      from: 'svc-test',
      ts: expect.any(Number),
      data: { order: 42 },
      offset: reply.body.offset,
    }
    expect(seen1).toEqual([delivered])
    expect(seen2).toEqual([delivered])
    expect(seenBob).toEqual([])
  })

  it('reaches the sockets of one session, and a room’s members, without an offset', async () => {
    const { url, userSocket, token } = await setUp()
    const [a1, a2, b] = await Promise.all([
      userSocket('alice', 's-a1'),
      userSocket('alice', 's-a2'),
      userSocket('bob', 's-b'),
    ])
    const [sess1, sess2] = [record(a1, 'session.note'), record(a2, 'session.note')]
    const session = await post(
      url,
      '/api/v1/publish',
      { to: { session: 's-a2' }, event: 'session.note', data: 'hi', id: 'n-1' },
      token,
    )
    expect(session).toMatchObject({ status: 202, body: { id: 'n-1' } })
    expect(session.body).not.toHaveProperty('offset')
    await Promise.all([
      drained(url, token, { session: 's-a1' }, a1),
      drained(url, token, { session: 's-a2' }, a2),
    ])
    expect(sess1).toEqual([])
    expect(sess2).toEqual([{ id: 'n-1', from: 'svc-test', ts: expect.any(Number), data: 'hi' }])

    for (const socket of [a1, b])
      expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
        ok: true,
      })
    const [roomA1, roomA2, roomB] = [
      record(a1, 'room.note'),
      record(a2, 'room.note'),
      record(b, 'room.note'),
    ]
    expect(
      (
        await post(
          url,
          '/api/v1/publish',
          { to: { room: 'lobby' }, event: 'room.note', data: [1, 2] },
          token,
        )
      ).status,
    ).toBe(202)
    await Promise.all([
      drained(url, token, { room: 'lobby' }, a1),
      drained(url, token, { room: 'lobby' }, b),
      drained(url, token, { session: 's-a2' }, a2),
    ])
    expect(roomA1).toEqual([
      { id: expect.any(String), from: 'svc-test', ts: expect.any(Number), data: [1, 2] },
    ])
    expect(roomB).toEqual(roomA1)
    expect(roomA2).toEqual([])
  })

  it('answers a repeated id exactly as the first time and delivers it once; another client’s same id is its own', async () => {
    const { issuer, server, url, userSocket, token } = await setUp()
    const socket = await userSocket('alice', 's-a1')
    const seen = record(socket, 'billing.paid')
    const body = { to: { user: 'alice' }, event: 'billing.paid', data: { amount: 5 }, id: 'pay-7' }
    const first = await post(url, '/api/v1/publish', body, token)
    const again = await post(url, '/api/v1/publish', { ...body, data: { amount: 6 } }, token)
    expect(first.status).toBe(202)
    // Status and body; the headers hold a Date, which may differ by a second on a loaded machine.
    expect({ status: again.status, body: again.body }).toEqual({
      status: first.status,
      body: first.body,
    })
    const other = await post(
      url,
      '/api/v1/publish',
      body,
      await serviceToken(issuer, { client_id: 'svc-other' }),
    )
    expect(other.status).toBe(202)
    expect(other.body.offset).not.toBe(first.body.offset)
    await drained(url, token, { user: 'alice' }, socket)
    expect(seen.map((p) => p.data)).toEqual([{ amount: 5 }, { amount: 5 }])
    expect(
      await server.metrics.registry.getSingleMetricAsString('realtime_api_publish_repeats_total'),
    ).toMatch(/ 1$/m)
    // What the services made this node hold: three ids (the marker's too), alice's stream of three, two clients' buckets.
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^realtime_api_idempotency_keys 3$/m)
    expect(metrics).toMatch(/^realtime_user_streams 1$/m)
    expect(metrics).toMatch(/^realtime_user_stream_entries 3$/m)
    expect(metrics).toMatch(/^realtime_api_rate_buckets 2$/m)
  })

  it('accepts a service token without nbf (docs/protocol.md §8 does not list it) and one with two audiences', async () => {
    const { issuer, url } = await setUp()
    const body = { to: { room: 'lobby' }, event: 'note', data: null }
    expect(
      (await post(url, '/api/v1/publish', body, await serviceToken(issuer, { nbf: undefined })))
        .status,
    ).toBe(202)
    const both = await serviceToken(issuer, { aud: ['realtime-api', 'billing'] })
    expect((await post(url, '/api/v1/publish', body, both)).status).toBe(202)
  })

  it('refuses a service token as a handshake token: the audiences differ', async () => {
    const { issuer, url } = await setUp()
    expect(
      await refusal(url, {
        auth: { token: await serviceToken(issuer, { sid: 's-x', name: 'svc', rooms: [] }) },
      }),
    ).toMatchObject({
      message: 'token_invalid',
    })
  })
})

describe('server API refusals (docs/protocol.md §8)', () => {
  const publish = { to: { user: 'alice' }, event: 'note', data: {} }

  it.each<[string, (issuer: TestIssuer) => Promise<string | undefined>, string]>([
    ['no token', async () => undefined, 'token_missing'],
    [
      'a user access token (aud realtime)',
      (issuer) => issuer.mint({ sub: 'alice', scope: 'publish disconnect' }),
      'token_invalid',
    ],
    ['another audience', (issuer) => serviceToken(issuer, { aud: 'billing' }), 'token_invalid'],
    [
      'an expired token',
      (issuer) => serviceToken(issuer, { iat: 1000, nbf: 1000, exp: 1300 }),
      'token_expired',
    ],
    [
      'a token without client_id',
      (issuer) => serviceToken(issuer, { client_id: undefined, sub: 'svc' }),
      'token_invalid',
    ],
    [
      'a forged signature',
      async (issuer) => (await serviceToken(issuer)).replace(/\.[^.]+$/, '.AAAA'),
      'token_invalid',
    ],
    ['alg none', async (issuer) => unsigned(await serviceToken(issuer)), 'token_invalid'],
    ['typ JWT', (issuer) => serviceToken(issuer, {}, { header: { typ: 'JWT' } }), 'token_invalid'],
    ['not a JWS', async () => 'not-a-token', 'token_malformed'],
  ])('answers %s with 401 and the token code', async (_what, tokenFor, code) => {
    const { issuer, url } = await setUp()
    const reply = await post(url, '/api/v1/publish', publish, await tokenFor(issuer))
    expect(reply.status).toBe(401)
    expect(reply.body).toEqual({ error: code, error_description: expect.any(String) })
    expect(reply.headers.get('www-authenticate')).toMatch(
      code === 'token_missing'
        ? /^Bearer realm="realtime-api"$/
        : /^Bearer realm="realtime-api", error="invalid_token", error_description="[^"]+"$/,
    )
  })

  it('answers 401 token_revoked once the client is disabled (a client revocation event)', async () => {
    const { issuer, server, url } = await setUp()
    const token = await serviceToken(issuer, { client_id: 'svc-gone' })
    expect((await post(url, '/api/v1/publish', publish, token)).status).toBe(202)
    const now = Math.floor(Date.now() / 1000)
    server.revoke({ kind: 'client', id: 'svc-gone', at: now, until: now + 900 })
    expect((await post(url, '/api/v1/publish', publish, token)).body).toMatchObject({
      error: 'token_revoked',
    })
    expect((await post(url, '/api/v1/publish', publish, await serviceToken(issuer))).status).toBe(
      202,
    )
  })

  it('refuses a token that passed once when it has since expired (the signature check is remembered, the time check is not)', async () => {
    let skewMs = 0
    const { issuer, url } = await setUp({ now: () => Date.now() + skewMs })
    const now = Math.floor(Date.now() / 1000)
    const token = await serviceToken(issuer, { exp: now + 60 })
    expect((await post(url, '/api/v1/publish', publish, token)).status).toBe(202)
    skewMs = 120_000
    expect(await post(url, '/api/v1/publish', publish, token)).toMatchObject({
      status: 401,
      body: { error: 'token_expired' },
    })
  })

  it('answers 403 forbidden for a token without the scope, naming the scope in the challenge', async () => {
    const { issuer, url } = await setUp()
    const token = await serviceToken(issuer, { scope: 'disconnect presence:read' })
    const reply = await post(url, '/api/v1/publish', publish, token)
    expect(reply).toMatchObject({ status: 403, body: { error: 'forbidden' } })
    expect(reply.headers.get('www-authenticate')).toBe(
      'Bearer realm="realtime-api", error="insufficient_scope", scope="publish"',
    )
    expect(
      (
        await post(
          url,
          '/api/v1/disconnect',
          { user: 'x' },
          await serviceToken(issuer, { scope: 'publish' }),
        )
      ).status,
    ).toBe(403)
  })

  it.each<[string, unknown]>([
    ['an rt: event', { ...publish, event: 'rt:x' }],
    ['an upper-case event', { ...publish, event: 'Note' }],
    ['an event starting with a digit', { ...publish, event: '1note' }],
    ['an event of 65 characters', { ...publish, event: `a${'b'.repeat(64)}` }],
    ['a reserved Socket.IO event', { ...publish, event: 'disconnect' }],
    ['an empty event', { ...publish, event: '' }],
    ['no data', { to: { user: 'alice' }, event: 'note' }],
    ['two targets', { ...publish, to: { user: 'alice', room: 'lobby' } }],
    ['a server-managed room', { ...publish, to: { room: 'user:alice' } }],
    ['an unknown key', { ...publish, extra: 1 }],
    ['a bad id', { ...publish, id: 'no spaces' }],
    ['a body that is not an object', [1, 2]],
    ['a body that is not JSON', '{"to":'],
  ])('answers %s with 400 envelope_invalid and delivers nothing', async (_what, body) => {
    const { url, userSocket, token } = await setUp()
    const socket = await userSocket('alice', 's-a1')
    const seen: unknown[] = []
    socket.onAny((event) => event !== 'test.marker' && seen.push(event))
    const reply = await post(url, '/api/v1/publish', body, token)
    expect(reply).toMatchObject({
      status: 400,
      body: { error: 'envelope_invalid', error_description: expect.any(String) },
    })
    await drained(url, token, { user: 'alice' }, socket)
    expect(seen).toEqual([])
  })

  it('answers 413 for data over 16 KiB and for a body over the raw limit, 400 for a body that is not UTF-8, 415 for another content type', async () => {
    const { url, token } = await setUp()
    const big = await post(
      url,
      '/api/v1/publish',
      { ...publish, data: 'x'.repeat(16 * 1024) },
      token,
    )
    expect(big).toMatchObject({ status: 413, body: { error: 'payload_too_large' } })
    const fits = await post(
      url,
      '/api/v1/publish',
      { ...publish, data: 'x'.repeat(16 * 1024 - 2) },
      token,
    )
    expect(fits.status).toBe(202)
    const huge = await post(
      url,
      '/api/v1/publish',
      JSON.stringify({ ...publish, data: 'x'.repeat(1024 * 1024) }),
      token,
    )
    expect(huge).toMatchObject({ status: 413, body: { error: 'payload_too_large' } })
    const latin1 = await fetch(`${url}/api/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: new Uint8Array([0x7b, 0xff, 0x7d]),
    })
    expect(latin1.status).toBe(400)
    expect(await latin1.json()).toMatchObject({ error: 'envelope_invalid' })
    const charset = await post(url, '/api/v1/publish', publish, token, {
      'content-type': 'application/json; charset=utf-8',
    })
    expect(charset.status).toBe(202)
    const form = await post(url, '/api/v1/publish', 'to=alice', token, {
      'content-type': 'application/x-www-form-urlencoded',
    })
    expect(form).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } })
  })

  it('answers 429 rate_limited with Retry-After per client, leaving other clients alone', async () => {
    // One request per 20 s past the burst: at 1/s, five requests taking a second on a loaded
    // machine would refill a token and the fourth would pass.
    const { issuer, server, url, token } = await setUp({
      serverApi: { rate: { perSecond: 0.05, burst: 3 } },
    })
    const statuses = []
    for (let i = 0; i < 4; i++)
      statuses.push((await post(url, '/api/v1/publish', publish, token)).status)
    expect(statuses).toEqual([202, 202, 202, 429])
    const limited = await post(url, '/api/v1/publish', publish, token)
    expect(limited.body).toEqual({ error: 'rate_limited', error_description: expect.any(String) })
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(
      (
        await post(
          url,
          '/api/v1/publish',
          publish,
          await serviceToken(issuer, { client_id: 'svc-2' }),
        )
      ).status,
    ).toBe(202)
    expect(
      await server.metrics.registry.getSingleMetricAsString('realtime_api_rate_limited_total'),
    ).toMatch(/ 2$/m)
  })

  it('answers 503 unavailable on a clustered node whose Redis is unreachable, and rt:sync says the same', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { redisUrl: 'redis://127.0.0.1:1' })
    const reply = await post(url, '/api/v1/publish', publish, await serviceToken(issuer))
    expect(reply).toMatchObject({ status: 503, body: { error: 'unavailable' } })
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'alice', sid: 's-a' }) },
    })
    expect(await request(socket, 'rt:sync', envelope({ since: null }))).toMatchObject({
      ok: false,
      error: { code: 'unavailable' },
    })
  })

  it('answers 503 unavailable while the signing keys are not loaded', async () => {
    const issuer = await startIssuer()
    issuer.down = true
    const { url } = await startServer(issuer)
    const reply = await post(url, '/api/v1/publish', publish, await serviceToken(issuer))
    expect(reply).toMatchObject({ status: 503, body: { error: 'unavailable' } })
  })
})

/** The same claims with `alg: none` and no signature. */
function unsigned(token: string): string {
  const [header] = token.split('.')
  const parsed = JSON.parse(Buffer.from(header!, 'base64url').toString())
  const none = Buffer.from(JSON.stringify({ ...parsed, alg: 'none' })).toString('base64url')
  return `${none}.${token.split('.')[1]}.`
}

describe('deliveries name their publisher (docs/protocol.md §8, v1.2)', () => {
  it("carry from = the client's client_id, so one client's id never silences another's in the SDK", async () => {
    const { issuer, url, userSocket } = await setUp()
    const alice = await userSocket('alice', 's-a1')
    const seen = record(alice, 'order.note')
    const [a, b] = await Promise.all([
      serviceToken(issuer, { client_id: 'svc-a' }),
      serviceToken(issuer, { client_id: 'svc-b' }),
    ])
    for (const token of [a, b]) {
      const reply = await post(
        url,
        '/api/v1/publish',
        { to: { user: 'alice' }, event: 'order.note', data: 'x', id: 'dup-1' },
        token,
      )
      expect(reply).toMatchObject({ status: 202, body: { id: 'dup-1' } })
    }
    await drained(url, b, { user: 'alice' }, alice)
    expect(seen).toEqual([
      { id: 'dup-1', from: 'svc-a', ts: expect.any(Number), data: 'x', offset: expect.any(String) },
      { id: 'dup-1', from: 'svc-b', ts: expect.any(Number), data: 'x', offset: expect.any(String) },
    ])
    // The SDK keeps both, and still drops a true repeat of either.
    const tracker = new NotificationTracker()
    expect(seen.map((n) => tracker.accept(n)?.from)).toEqual(['svc-a', 'svc-b'])
    expect(seen.map((n) => tracker.accept(n))).toEqual([undefined, undefined])
  })
})

describe('deeply nested data (docs/protocol.md §8, v1.2)', () => {
  /** The publish body as text: a JSON value `depth` arrays deep (built as text, too deep for JSON.stringify here). */
  const nested = (depth: number): string =>
    `{"to":{"room":"lobby"},"event":"deep.note","data":${'['.repeat(depth)}0${']'.repeat(depth)}}`

  it.each([65, 10_000])(
    'refuses data nested %i levels deep with 400 envelope_invalid, never a 500',
    async (depth) => {
      const { url, token } = await setUp()
      const reply = await post(url, '/api/v1/publish', nested(depth), token)
      expect(reply.status).toBe(400)
      expect(reply.body).toEqual({
        error: 'envelope_invalid',
        error_description: expect.stringMatching(/^data: /),
      })
    },
  )

  it('accepts data nested 64 levels deep', async () => {
    const { url, token } = await setUp()
    expect((await post(url, '/api/v1/publish', nested(64), token)).status).toBe(202)
  })
})
