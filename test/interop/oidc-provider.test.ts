/**
 * Realtime trusting an OpenID provider nobody here wrote (docs/protocol.md
 * §12): `oidc-provider` on loopback issues RS256 JWT access tokens for client
 * credentials with a resource indicator; realtime finds its keys through
 * discovery. Its tokens connect, and are refused when expired, for another
 * audience, or re-signed with an edge key under the provider's kid.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import Provider from 'oidc-provider'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TrustedIssuer } from '../../realtime/auth/issuers/schema.ts'
import { cleanup, connect, envelope, next, refusal, startIssuer } from '../realtime/support.ts'
import { post, serviceToken } from '../realtime/api/service.ts'
import {
  movableClock,
  refusedWith,
  startRecordingServer,
} from '../realtime/admission/handshake-helpers.ts'
import { disconnection, record, request, until } from '../realtime/waits.ts'

const REALTIME_RESOURCE = 'urn:edgegate:realtime'
const OTHER_RESOURCE = 'urn:example:billing'
const CLIENT = { client_id: 'backend', client_secret: 'backend-secret-for-tests-only-0123456789' }
/**
 * Clients whose id (the token's `sub`) is outside 1–256 visible ASCII: with
 * spaces, as directory names are (the provider allows \x20-\x7E in a
 * client_id), and of 257 characters.
 */
const LDAP_CLIENT = { client_id: 'f:ldap:Jorg Muller', client_secret: CLIENT.client_secret }
const LONG_CLIENT = { client_id: 'l'.repeat(257), client_secret: CLIENT.client_secret }
const KID = 'op-rs256-1'

let op: { url: string; server: Server }

beforeAll(async () => {
  // A generated RSA key: the provider signs RS256 with it.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const provider = new Provider(url, {
    clients: [CLIENT, LDAP_CLIENT, LONG_CLIENT].map((client) => ({
      ...client,
      // Basic allows visible ASCII only (RFC 6749 §2.3.1): the others post their credentials.
      token_endpoint_auth_method: client === CLIENT ? 'client_secret_basic' : 'client_secret_post',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    })),
    jwks: {
      keys: [{ ...privateKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' }],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => REALTIME_RESOURCE,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: 'chat:read chat:write',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    // Where this tenant keeps the rooms its users may join.
    extraTokenClaims: () => ({ 'https://example.com/rooms': ['lobby', 'ops:*'] }),
    ttl: { ClientCredentials: 300 },
  })
  server.on('request', provider.callback())
  op = { url, server }
})

afterAll(async () => {
  await cleanup()
  op.server.closeAllConnections()
  await new Promise((resolve) => op.server.close(resolve))
})

afterEach(cleanup)

/** Realtime's entry for the provider, found through its discovery document. */
const trusted = (): TrustedIssuer => ({
  issuer: op.url,
  discovery: `${op.url}/.well-known/openid-configuration`,
  audience: REALTIME_RESOURCE,
  algorithms: ['RS256'],
  requireTyp: true,
  scopeClaim: 'scope',
  roomsClaim: 'https://example.com/rooms',
})

/** A client-credentials access token from the provider for `resource`. */
async function providerToken(
  resource = REALTIME_RESOURCE,
  scope = 'chat:read chat:write',
  client = CLIENT,
): Promise<string> {
  const basic = client === CLIENT
  const res = await fetch(`${op.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(basic && {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
      }),
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource,
      scope,
      ...(!basic && client),
    }).toString(),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as { access_token: string }).access_token
}

/** `token`'s header and payload re-signed with `key` (alg as given), keeping the provider's kid. */
function resign(token: string, key: KeyObject, alg: 'ES256' | 'RS256'): string {
  const [h, p] = token.split('.') as [string, string]
  const header = { ...JSON.parse(Buffer.from(h, 'base64url').toString()), alg }
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${p}`
  const options = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : { key }
  return `${input}.${sign('sha256', Buffer.from(input), options).toString('base64url')}`
}

async function start(options: { now?: () => number } = {}) {
  // The edge (a test issuer, closed with the server after each test) stays the default issuer.
  const edge = await startIssuer()
  const started = await startRecordingServer(edge, { trustedIssuers: [trusted()], ...options })
  await until(() => started.server.notReadyReasons().length === 0, {
    what: "the provider's keys loaded",
    timeoutMs: 10_000,
  })
  return { ...started, edge }
}

describe('oidc-provider as a second issuer', () => {
  it('its RS256 access token connects; scope and rooms come from its claims; sid is the jti', async () => {
    const { url, passed } = await start()
    const token = await providerToken()
    const socket = await connect(url, { auth: { token } })
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    expect(passed[0]).toMatchObject({
      sub: CLIENT.client_id,
      sid: derivedSid(op.url, claims.jti),
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'ops:*'],
      kid: KID,
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'ops:1' }))).toMatchObject({
      ok: true,
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'team:a:1' }))).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    })
  })

  it('refuses its token once expired with token_expired', async () => {
    const clock = movableClock()
    const { url } = await start({ now: clock.now })
    const token = await providerToken()
    await connect(url, { auth: { token } })
    clock.advance(310_000)
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_expired'))
  })

  it('refuses its token for another audience (resource) with token_invalid', async () => {
    const { url } = await start()
    const token = await providerToken(OTHER_RESOURCE)
    expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_invalid'))
  })

  it("refuses its token re-signed with an edge key under the provider's kid with token_invalid", async () => {
    const { url } = await start()
    const token = await providerToken()
    // The edge's own ES256 key: an alg the provider is not allowed.
    const edgeKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    expect(await refusal(url, { auth: { token: resign(token, edgeKey, 'ES256') } })).toEqual(
      refusedWith('token_invalid'),
    )
    // An RS256 edge key: the alg is allowed, the provider's key under that kid does not verify it.
    const rsaEdgeKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    expect(await refusal(url, { auth: { token: resign(token, rsaEdgeKey, 'RS256') } })).toEqual(
      refusedWith('token_invalid'),
    )
    // The untouched token still connects: the refusals were the signatures'.
    await connect(url, { auth: { token } })
  })
})

/** docs/protocol.md §12 (v1.2): `x` + the first 22 characters of base64url(SHA-256(iss + " " + jti)). */
function derivedSid(iss: string, jti: string): string {
  return `x${createHash('sha256').update(`${iss} ${jti}`).digest('base64url').slice(0, 22)}`
}

describe("oidc-provider's subjects and sessions (docs/protocol.md §8, §12, v1.2)", () => {
  it('a sub outside visible ASCII connects and can be published to and disconnected through the server API', async () => {
    const { url, edge } = await start()
    const sub = LDAP_CLIENT.client_id
    const socket = await connect(url, {
      auth: { token: await providerToken(REALTIME_RESOURCE, 'chat:read', LDAP_CLIENT) },
    })
    const api = await serviceToken(edge)
    const delivered = next(socket, 'ldap.note')
    expect(
      await post(url, '/api/v1/publish', { to: { user: sub }, event: 'ldap.note', data: 1 }, api),
    ).toMatchObject({ status: 202 })
    expect(await delivered).toMatchObject({ data: 1 })
    const gone = disconnection(socket)
    expect(await post(url, '/api/v1/disconnect', { user: sub }, api)).toMatchObject({
      status: 202,
    })
    expect(await gone).toBe('io server disconnect')
  })

  it.each([
    ['257 characters (from the provider)', LONG_CLIENT.client_id],
    ['a control character (from the edge)', 'ctl\u0007user'],
    ['a line feed (from the edge)', 'alice\nbob'],
  ])(
    'refuses a sub of %s at the handshake with token_invalid, as the server API refuses it',
    async (_, sub) => {
      const { url, edge } = await start()
      const token =
        sub === LONG_CLIENT.client_id
          ? await providerToken(REALTIME_RESOURCE, 'chat:read', LONG_CLIENT)
          : await edge.mint({ sub })
      expect(await refusal(url, { auth: { token } })).toEqual(refusedWith('token_invalid'))
      const api = await serviceToken(edge)
      for (const [path, body] of [
        ['/api/v1/publish', { to: { user: sub }, event: 'x.note', data: 1 }],
        ['/api/v1/disconnect', { user: sub }],
      ] as const) {
        expect(await post(url, path, body, api)).toMatchObject({
          status: 400,
          body: { error: 'envelope_invalid' },
        })
      }
    },
  )

  it('derives its session from iss and jti: an edge sid equal to its jti never reaches it', async () => {
    const { url, edge, passed } = await start()
    const token = await providerToken()
    const { jti } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    const provider = await connect(url, { auth: { token } })
    // An edge user whose sid is the provider token's jti.
    const alice = await connect(url, {
      auth: { token: await edge.mint({ sub: 'alice', sid: jti }) },
    })
    const sid = derivedSid(op.url, jti)
    expect(passed[0]!.sid).toBe(sid)
    expect(sid).toMatch(/^x[A-Za-z0-9_-]{22}$/)
    const api = await serviceToken(edge)
    const [toProvider, toAlice] = [record(provider, 'session.note'), record(alice, 'session.note')]
    for (const session of [jti, sid])
      expect(
        await post(
          url,
          '/api/v1/publish',
          { to: { session }, event: 'session.note', data: session },
          api,
        ),
      ).toMatchObject({ status: 202 })
    await until(() => toProvider.length + toAlice.length === 2)
    expect(toAlice.map((n) => n.data)).toEqual([jti])
    expect(toProvider.map((n) => n.data)).toEqual([sid])
  })
})
