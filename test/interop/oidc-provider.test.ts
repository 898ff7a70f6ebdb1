/**
 * Realtime trusting an OpenID provider nobody here wrote (docs/protocol.md
 * §12): `oidc-provider` on loopback issues RS256 JWT access tokens for client
 * credentials with a resource indicator; realtime finds its keys through
 * discovery. Its tokens connect, and are refused when expired, for another
 * audience, or re-signed with an edge key under the provider's kid.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import Provider from 'oidc-provider'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { TrustedIssuer } from '../../realtime/auth/issuers/schema.ts'
import { cleanup, connect, envelope, refusal, startIssuer } from '../realtime/support.ts'
import {
  eventually,
  movableClock,
  refusedWith,
  startRecordingServer,
} from '../realtime/auth/handshake-helpers.ts'
import { request } from '../realtime/waits.ts'

const REALTIME_RESOURCE = 'urn:edgegate:realtime'
const OTHER_RESOURCE = 'urn:example:billing'
const CLIENT = { client_id: 'backend', client_secret: 'backend-secret-for-tests-only-0123456789' }
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
    clients: [
      { ...CLIENT, grant_types: ['client_credentials'], redirect_uris: [], response_types: [] },
    ],
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
): Promise<string> {
  const res = await fetch(`${op.url}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT.client_id}:${CLIENT.client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
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
  await eventually(
    () => started.server.notReadyReasons().length === 0,
    "the provider's keys loaded",
  )
  return started
}

describe('oidc-provider as a second issuer', () => {
  it('its RS256 access token connects; scope and rooms come from its claims; sid is the jti', async () => {
    const { url, passed } = await start()
    const token = await providerToken()
    const socket = await connect(url, { auth: { token } })
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())
    expect(passed[0]).toMatchObject({
      sub: CLIENT.client_id,
      sid: claims.jti,
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
