/**
 * Other issuers (docs/protocol.md §12) over real sockets: test issuers on
 * loopback play the edge and two more issuers; the token's `iss` selects
 * exactly one key set, an unlisted issuer is `token_invalid`, the same kid
 * published by two issuers never crosses over, the edge's revocations stay
 * with the edge's tokens, and an issuer whose discovery is down makes only
 * its own tokens `unavailable`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { TrustedIssuer } from '../../../../realtime/auth/issuers/schema.ts'
import {
  cleanup,
  connect,
  envelope,
  refusal,
  startIssuer,
  startServer,
  testKey,
  type TestIssuer,
} from '../../support.ts'
import { refusedWith, startRecordingServer } from '../../admission/handshake-helpers.ts'
import { foreignSessionId } from '../../../../realtime/auth/issuers/foreign-claims.ts'
import { disconnection, request, settle, until } from '../../waits.ts'
import { post, serviceToken } from '../../api/service.ts'

afterEach(cleanup)

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })

/** A trusted-issuer entry for a test issuer, found through its discovery document unless told otherwise. */
function trusted(issuer: TestIssuer, extra: Partial<TrustedIssuer> = {}): TrustedIssuer {
  return {
    issuer: issuer.url,
    discovery: issuer.discoveryUrl,
    audience: 'api://realtime',
    algorithms: ['ES256'],
    requireTyp: true,
    scopeClaim: 'scp',
    roomsClaim: 'https://example.com/rooms',
    ...extra,
  }
}

/** An edge room grant for doc:1 from client c-1, with no sid, and `claims` over that. */
function edgeGrant(edge: TestIssuer, claims: Record<string, unknown> = {}) {
  return edge.mint(
    {
      sid: undefined,
      name: undefined,
      scope: undefined,
      nbf: undefined,
      rooms: ['doc:1'],
      client_id: 'c-1',
      ...claims,
    },
    { header: { typ: 'room+jwt' } },
  )
}

/** A token of the other issuer: no sid, scopes as a list, rooms under a namespaced claim. */
function foreignToken(issuer: TestIssuer, claims: Record<string, unknown> = {}, options = {}) {
  return issuer.mint(
    {
      aud: 'api://realtime',
      sid: undefined,
      name: undefined,
      scope: undefined,
      rooms: undefined,
      nbf: undefined,
      scp: ['chat:read', 'chat:write'],
      'https://example.com/rooms': ['lobby', 'auth0:*'],
      ...claims,
    },
    options,
  )
}

async function setUp() {
  const edge = await startIssuer()
  const other = await startIssuer()
  const { server, url, passed } = await startRecordingServer(edge, {
    trustedIssuers: [trusted(other)],
  })
  await until(() => server.notReadyReasons().length === 0, {
    what: 'the other issuer loaded',
    timeoutMs: 10_000,
  })
  return { edge, other, server, url, passed }
}

describe('tokens of another trusted issuer', () => {
  it('connect, with sid derived from iss and jti, the scope list joined and rooms from the configured claim', async () => {
    const { other, server, url, passed } = await setUp()
    const token = await foreignToken(other, { sub: 'auth0|42', jti: 'jti-a' })
    const socket = await connect(url, { auth: { token } })
    expect(server.io.of('/').sockets.get(socket.id!)!.data.issuer).toBe(other.url)
    expect(passed[0]).toMatchObject({
      sub: 'auth0|42',
      sid: foreignSessionId(other.url, 'jti-a'),
      jti: 'jti-a',
      name: 'auth0|42',
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'auth0:*'],
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'auth0:x' }))).toMatchObject({
      ok: true,
    })
    expect(
      await request(socket, 'chat:send', envelope({ room: 'auth0:x', text: 'hi' })),
    ).toMatchObject({
      ok: true,
    })
  })

  it('the edge keeps working next to it', async () => {
    const { edge, server, url, passed } = await setUp()
    const socket = await connect(url, { auth: { token: await edge.mint() } })
    expect(passed[0]).toMatchObject({ sub: 'user-1', sid: 'session-1' })
    expect(server.io.of('/').sockets.get(socket.id!)!.data).not.toHaveProperty('issuer')
  })

  it('an unlisted iss is token_invalid, and costs no JWKS fetch anywhere', async () => {
    const { edge, other, url } = await setUp()
    const stranger = await startIssuer()
    const before = [edge.fetches, other.fetches]
    const token = await foreignToken(stranger, { aud: 'realtime' }, { key: edge.key })
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_invalid'))
    expect([edge.fetches, other.fetches, stranger.fetches]).toEqual([...before, 0])
  })

  it("unknown kids under another issuer's iss cost its JWKS at most one refetch per cooldown, and the edge's none", async () => {
    const { edge, other, url } = await setUp()
    const before = [edge.fetches, other.fetches]
    for (let i = 0; i < 5; i++) {
      const token = await foreignToken(other, {}, { header: { kid: `made-up-${i}` } })
      expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_invalid'))
    }
    expect(edge.fetches).toBe(before[0])
    expect(other.fetches - before[1]!).toBeLessThanOrEqual(1)
  })

  it("a kid published by two issuers with different keys never verifies the other's tokens", async () => {
    const edge = await startIssuer()
    const other = await startIssuer()
    const shared = 'shared-kid'
    edge.keys = [await testKey('ES256', shared)]
    other.keys = [await testKey('ES256', shared)]
    const { server, url } = await startServer(edge, { trustedIssuers: [trusted(other)] })
    await until(() => server.notReadyReasons().length === 0, {
      what: 'the other issuer loaded',
      timeoutMs: 10_000,
    })

    // Each issuer's own key under the shared kid: accepted.
    await connect(url, { auth: { token: await edge.mint({}, { key: edge.keys[0] }) } })
    await connect(url, { auth: { token: await foreignToken(other, {}, { key: other.keys[0] }) } })
    // The other issuer's iss signed by the edge's key of that kid, and the reverse: refused.
    const crossedIn = await foreignToken(other, {}, { key: edge.keys[0] })
    const crossedOut = await edge.mint({}, { key: other.keys[0] })
    expect(await refusal(url, { auth: { token: crossedIn } })).toEqual(refusedWith('token_invalid'))
    expect(await refusal(url, { auth: { token: crossedOut } })).toEqual(
      refusedWith('token_invalid'),
    )
  })

  it.each([
    ['another audience', { aud: 'realtime' }, {}],
    ['an alg outside its allow-list', {}, 'RS256'],
    ['typ JWT where at+jwt is required', {}, { typ: 'JWT' }],
    ['a room grant typ', {}, { typ: 'room+jwt' }],
    ['no jti', { jti: undefined }, {}],
  ] as const)('refuses %s with token_invalid', async (_, claims, header) => {
    const { other, url } = await setUp()
    const options =
      header === 'RS256'
        ? { key: await testKey('RS256', other.key.kid) }
        : { header: header as Record<string, unknown> }
    if (header === 'RS256') other.keys.push(options.key!)
    const token = await foreignToken(other, claims, options)
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_invalid'))
  })

  it('refuses an expired token with token_expired', async () => {
    const { other, url } = await setUp()
    const now = Math.floor(Date.now() / 1000)
    const token = await foreignToken(other, { iat: now - 900, exp: now - 600 })
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_expired'))
  })

  it("the edge's user and session events leave another issuer's sub and jti alone; the edge's own go", async () => {
    const { edge, other, server, url } = await setUp()
    const theirs = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'u-x', jti: 'j-x' }) },
    })
    const ours = await connect(url, { auth: { token: await edge.mint({ sub: 'u-x' }) } })
    const kicked = disconnection(ours)
    const now = Math.floor(Date.now() / 1000)
    server.revoke({ kind: 'session', id: 'j-x', at: now, until: now + 900 })
    server.revoke({ kind: 'key', id: other.key.kid, at: now, until: now + 900 })
    server.revoke({ kind: 'user', id: 'u-x', at: now + 1, until: now + 900 })
    expect(await kicked).toBe('io server disconnect')
    await settle(200)
    expect(theirs.connected).toBe(true)
    expect(await request(theirs, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    // A new handshake with its token is not refused either.
    await connect(url, { auth: { token: await foreignToken(other, { sub: 'u-x' }) } })
  })

  it("the server API's disconnect closes another issuer's connections too (by user and by the derived session)", async () => {
    const { edge, other, url } = await setUp()
    const byUser = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'u-d' }) },
    })
    const bySession = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'u-e', jti: 'j-e' }) },
    })
    const service = await serviceToken(edge)
    const gone = [disconnection(byUser), disconnection(bySession)]
    expect(await post(url, '/api/v1/disconnect', { user: 'u-d' }, service)).toMatchObject({
      status: 202,
    })
    const session = foreignSessionId(other.url, 'j-e')
    expect(await post(url, '/api/v1/disconnect', { session }, service)).toMatchObject({
      status: 202,
    })
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect'])
  })

  it('an in-band token of the same issuer and sub keeps the session; an edge token for the same sub is token_mismatch', async () => {
    const { edge, other, server, url } = await setUp()
    const socket = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'u-y', jti: 'j-1' }) },
    })
    const later = await foreignToken(other, {
      sub: 'u-y',
      jti: 'j-2',
      exp: Math.floor(Date.now() / 1000) + 600,
    })
    expect(await request(socket, 'rt:auth', envelope(null, { token: later }))).toMatchObject({
      ok: true,
    })
    expect(server.io.of('/').sockets.get(socket.id!)!.data.auth).toMatchObject({
      sid: foreignSessionId(other.url, 'j-1'),
      jti: 'j-2',
    })
    // A mismatch closes the connection after its ack (docs/protocol.md §5, v1.2).
    expect(
      await request(socket, 'rt:auth', envelope(null, { token: await edge.mint({ sub: 'u-y' }) })),
    ).toEqual(refused('token_mismatch'))
    const again = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'u-y', jti: 'j-3' }) },
    })
    const stranger = await foreignToken(other, { sub: 'u-z' })
    expect(await request(again, 'rt:auth', envelope(null, { token: stranger }))).toEqual(
      refused('token_mismatch'),
    )
  })

  it("an edge room grant for the same sub is token_mismatch on another issuer's connection", async () => {
    const { edge, other, url } = await setUp()
    const socket = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'user-1' }) },
    })
    const grant = await edgeGrant(edge)
    expect(await request(socket, 'rt:join', envelope({ room: 'doc:1', grant }))).toEqual(
      refused('token_mismatch'),
    )
  })

  it("the edge's events are never read against another issuer's connection when it presents an edge grant", async () => {
    const { edge, other, server, url } = await setUp()
    const socket = await connect(url, {
      auth: { token: await foreignToken(other, { sub: 'user-g', jti: 'j-g' }) },
    })
    const now = Math.floor(Date.now() / 1000)
    // An edge session event whose id is the connection's derived sid.
    server.revoke({
      kind: 'session',
      id: foreignSessionId(other.url, 'j-g'),
      at: now,
      until: now + 900,
    })
    const grant = await edgeGrant(edge, { sub: 'user-g' })
    // The connection is another issuer's, so the grant names someone else; the
    // edge's session event for the same string does not make it token_revoked.
    expect(await request(socket, 'rt:join', envelope({ room: 'doc:1', grant }))).toEqual(
      refused('token_mismatch'),
    )
    expect(socket.connected).toBe(true)
  })
})

describe('an issuer whose discovery is down at start', () => {
  it('the service starts and serves the edge; readiness names the missing issuer; its tokens are unavailable until it returns', async () => {
    const edge = await startIssuer()
    const other = await startIssuer()
    const third = await startIssuer()
    third.down = true
    const { server, url } = await startServer(edge, {
      trustedIssuers: [trusted(other), trusted(third, { jwksUri: undefined })],
      issuerRetry: { minMs: 100, maxMs: 400 },
    })
    // The reason says that it is retrying, and when.
    const missing = new RegExp(
      `^issuer ${third.url}: discovery not loaded \\(\\d+ attempts failed; next in \\d+ s\\)$`,
    )
    await until(
      () => {
        const reasons = server.notReadyReasons()
        return reasons.length === 1 && missing.test(reasons[0]!)
      },
      { what: 'the edge and the second issuer loaded', timeoutMs: 10_000 },
    )
    // docs/protocol.md §5: /readyz is 503 with reasons until every trusted issuer's keys are loaded.
    const readyz = await fetch(`${url}/readyz`)
    expect(readyz.status).toBe(503)
    expect(await readyz.json()).toEqual({
      ready: false,
      reasons: [expect.stringMatching(missing)],
    })

    await connect(url, { auth: { token: await edge.mint() } })
    await connect(url, { auth: { token: await foreignToken(other) } })
    const token = await foreignToken(third)
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('unavailable'))
    const metrics = await server.metrics.registry.metrics()
    expect(metrics).toMatch(
      new RegExp(
        `realtime_issuer_fetches_total\\{issuer="${third.url}",kind="discovery",outcome="error"\\} [1-9]`,
      ),
    )
    expect(metrics).toContain(
      `realtime_issuer_fetches_total{issuer="${other.url}",kind="jwks",outcome="ok"} 1`,
    )

    third.down = false
    await until(() => server.notReadyReasons().length === 0, {
      what: 'the third issuer loaded',
      timeoutMs: 20_000,
    })
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ready: true })
    await connect(url, { auth: { token } })
  })

  it('an issuer configured by jwksUri whose JWKS is down: unavailable, then connects once it answers', async () => {
    const edge = await startIssuer()
    const other = await startIssuer()
    other.down = true
    const { server, url } = await startServer(edge, {
      trustedIssuers: [trusted(other, { discovery: undefined, jwksUri: other.jwksUrl })],
      jwks: { cooldownMs: 100 },
      issuerRetry: { minMs: 100, maxMs: 400 },
    })
    await until(
      () => !server.notReadyReasons().some((reason) => reason.startsWith('signing keys')),
      { what: 'the edge loaded', timeoutMs: 10_000 },
    )
    expect(server.notReadyReasons()).toEqual([
      expect.stringMatching(new RegExp(`^issuer ${other.url}: keys not loaded`)),
    ])
    const token = await foreignToken(other)
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('unavailable'))
    other.down = false
    await until(() => server.notReadyReasons().length === 0, {
      what: 'the issuer loaded',
      timeoutMs: 20_000,
    })
    await connect(url, { auth: { token } })
  })
})
