/**
 * Forged and mis-issued access tokens at the realtime handshake: every one is
 * refused with `token_invalid` (or `token_malformed` where the structure is
 * broken), no user middleware ever runs for it, and nothing named in a token
 * is ever fetched.
 */
import { createServer, type Server as HttpServer } from 'node:http'
import { once } from 'node:events'
import { createPublicKey } from 'node:crypto'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, startIssuer, testKey, type TestIssuer, type TestKey } from '../support.ts'
import {
  b64,
  movableClock,
  nowSeconds,
  payloadOf,
  refusedWith,
  startRecordingServer,
  TRANSPORTS,
  overTransport,
} from '../admission/handshake-helpers.ts'

/** An attacker's HTTP server that serves its own keys at any path and counts every request. */
interface Attacker {
  url: string
  key: TestKey
  requests: string[]
}

const attackers: HttpServer[] = []

afterEach(async () => {
  await cleanup()
  for (const server of attackers.splice(0)) {
    server.closeAllConnections()
    server.close()
  }
})

async function startAttacker(): Promise<Attacker> {
  const key = await testKey()
  const requests: string[] = []
  const server = createServer((req, res) => {
    requests.push(req.url ?? '')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: [key.publicJwk] }))
  })
  attackers.push(server)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, key, requests }
}

/** Valid claims for `issuer`, as `mint` would sign them. */
function claimsFor(issuer: TestIssuer): Record<string, unknown> {
  const now = nowSeconds()
  return {
    iss: issuer.url,
    aud: 'realtime',
    sub: 'user-1',
    sid: 'session-1',
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    name: 'alice',
    scope: 'chat:read chat:write',
    rooms: ['lobby'],
    iat: now,
    nbf: now,
    exp: now + 300,
  }
}

/** Replace a token's payload, keeping its header and signature. */
function withPayload(token: string, payload: Record<string, unknown>): string {
  const [header, , signature] = token.split('.')
  return `${header}.${b64(payload)}.${signature}`
}

describe.each(TRANSPORTS)('forged tokens over %s', (transport) => {
  const { open, refuse } = overTransport(transport)

  it('accepts the controls: a token the issuer signed, and one signed by hand with the same key', async () => {
    const issuer = await startIssuer()
    const { url, passed } = await startRecordingServer(issuer)
    await open(url, { auth: { token: await issuer.mint({ sid: 's-jose' }) } })
    const header = { alg: 'ES256', typ: 'at+jwt', kid: issuer.key.kid }
    const byHand = await signEs256ByHand(
      header,
      { ...claimsFor(issuer), sid: 's-hand' },
      issuer.key,
    )
    await open(url, { auth: { token: byHand } })
    expect(passed.map((a) => a.sid)).toEqual(['s-jose', 's-hand'])
  })

  describe('signature and algorithm forgeries are refused with token_invalid', () => {
    it.each<[string, (issuer: TestIssuer) => Promise<string>]>([
      [
        'alg none with an empty signature',
        async (i) => `${b64({ alg: 'none', typ: 'at+jwt', kid: i.key.kid })}.${b64(claimsFor(i))}.`,
      ],
      [
        'alg none keeping a genuine signature',
        async (i) => {
          const genuine = await i.mint()
          const [, payload, signature] = genuine.split('.')
          return `${b64({ alg: 'none', typ: 'at+jwt', kid: i.key.kid })}.${payload}.${signature}`
        },
      ],
      [
        'HS256 keyed with the public JWK JSON, under the real kid',
        async (i) =>
          new SignJWT(claimsFor(i))
            .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: i.key.kid })
            .sign(new TextEncoder().encode(JSON.stringify(i.key.publicJwk))),
      ],
      [
        'HS256 keyed with the PEM of the public key, under the real kid',
        async (i) => {
          const pem = createPublicKey({ key: i.key.publicJwk as never, format: 'jwk' })
            .export({ type: 'spki', format: 'pem' })
            .toString()
          return new SignJWT(claimsFor(i))
            .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: i.key.kid })
            .sign(new TextEncoder().encode(pem))
        },
      ],
      [
        "a valid ES256 signature by an attacker's key with the real kid copied",
        async (i) => i.mint({}, { key: { ...(await testKey('ES256')), kid: i.key.kid } }),
      ],
      [
        "an RS256 signature by an attacker's key under the ES256 key's kid",
        async (i) => i.mint({}, { key: { ...(await testKey('RS256')), kid: i.key.kid } }),
      ],
      [
        "an EdDSA signature by an attacker's key under the ES256 key's kid",
        async (i) => i.mint({}, { key: { ...(await testKey('EdDSA')), kid: i.key.kid } }),
      ],
      [
        'a tampered payload (scope widened) under the original signature',
        async (i) => {
          const genuine = await i.mint({ scope: 'chat:read' })
          return withPayload(genuine, {
            ...payloadOf(genuine),
            scope: 'chat:read chat:write admin',
          })
        },
      ],
      [
        'a tampered payload (another sub) under the original signature',
        async (i) => {
          const genuine = await i.mint({ sub: 'user-1' })
          return withPayload(genuine, { ...payloadOf(genuine), sub: 'user-admin' })
        },
      ],
      [
        'a genuine header and payload with the signature of another genuine token',
        async (i) => {
          const [header, payload] = (await i.mint({ sub: 'user-admin' })).split('.')
          return `${header}.${payload}.${(await i.mint()).split('.')[2]}`
        },
      ],
      [
        'a genuine header and payload with an empty signature',
        async (i) => (await i.mint()).replace(/[^.]+$/, ''),
      ],
      [
        'a crit header naming an extension the verifier does not understand',
        async (i) =>
          signEs256ByHand(
            {
              alg: 'ES256',
              typ: 'at+jwt',
              kid: i.key.kid,
              crit: ['x-trust-me'],
              'x-trust-me': true,
            },
            claimsFor(i),
            i.key,
          ),
      ],
      ['a kid named __proto__', async (i) => i.mint({}, { header: { kid: '__proto__' } })],
      ['a kid named constructor', async (i) => i.mint({}, { header: { kid: 'constructor' } })],
    ])('refuses %s', async (_name, forge) => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      expect(await refuse(url, { auth: { token: await forge(issuer) } })).toEqual(
        refusedWith('token_invalid'),
      )
      expect(passed).toEqual([])
    })
  })

  describe('tokens with wrong or missing claims are refused with token_invalid', () => {
    const late = () => nowSeconds() + 60
    it.each<[string, Record<string, unknown>, Record<string, unknown>?]>([
      ['typ JWT', {}, { typ: 'JWT' }],
      ['no typ', {}, { typ: undefined }],
      ['typ at+jwt+evil', {}, { typ: 'at+jwt+evil' }],
      ['another iss', { iss: 'https://evil.test' }],
      ['no iss', { iss: undefined }],
      ['another aud', { aud: 'billing' }],
      ['an aud list without realtime', { aud: ['billing', 'admin'] }],
      ['no aud', { aud: undefined }],
      ['no sub', { sub: undefined }],
      ['no sid', { sid: undefined }],
      ['no jti', { jti: undefined }],
      ['no iat', { iat: undefined }],
      ['no exp', { exp: undefined }],
      ['an empty sub', { sub: '' }],
      ['a numeric sub', { sub: 42 }],
      ['a string exp', { exp: String(nowSeconds() + 300) }],
      ['nbf 60 s in the future', { nbf: late() }],
    ])('refuses a token with %s', async (_name, claims, header) => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      const token = await issuer.mint(claims, header ? { header } : {})
      expect(await refuse(url, { auth: { token } })).toEqual(refusedWith('token_invalid'))
      expect(passed).toEqual([])
    })

    it('accepts nbf 3 s in the future (within the tolerance) and an aud list that includes realtime', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer)
      await open(url, {
        auth: { token: await issuer.mint({ sid: 's-nbf', nbf: nowSeconds() + 3 }) },
      })
      await open(url, {
        auth: { token: await issuer.mint({ sid: 's-aud', aud: ['billing', 'realtime'] }) },
      })
      expect(passed.map((a) => a.sid)).toEqual(['s-nbf', 's-aud'])
    })
  })

  describe('key-location headers are never fetched', () => {
    it.each<[string, (issuer: TestIssuer, attacker: Attacker) => Promise<string>]>([
      [
        "jku at the attacker's JWKS, signed by the attacker's key under its kid",
        (i, a) => i.mint({}, { key: a.key, header: { jku: `${a.url}/jwks.json` } }),
      ],
      [
        "jku at the attacker's JWKS, signed by the attacker's key under the real kid",
        (i, a) =>
          i.mint({}, { key: { ...a.key, kid: i.key.kid }, header: { jku: `${a.url}/jwks.json` } }),
      ],
      [
        "x5u at the attacker's certificate, signed by the attacker's key under the real kid",
        (i, a) =>
          i.mint({}, { key: { ...a.key, kid: i.key.kid }, header: { x5u: `${a.url}/cert.pem` } }),
      ],
      [
        "an embedded jwk of the attacker's key, signed by it under its kid",
        (i, a) => i.mint({}, { key: a.key, header: { jwk: withoutKid(a.key) } }),
      ],
      [
        "an embedded jwk of the attacker's key, signed by it under the real kid",
        (i, a) =>
          i.mint({}, { key: { ...a.key, kid: i.key.kid }, header: { jwk: withoutKid(a.key) } }),
      ],
    ])('refuses a token with %s, and the attacker receives no request', async (_name, forge) => {
      const issuer = await startIssuer()
      const attacker = await startAttacker()
      const { url, passed } = await startRecordingServer(issuer)
      const fetchesBefore = issuer.fetches
      expect(await refuse(url, { auth: { token: await forge(issuer, attacker) } })).toEqual(
        refusedWith('token_invalid'),
      )
      expect(attacker.requests).toEqual([])
      expect(passed).toEqual([])
      // An unknown kid costs at most one refetch of the configured JWKS (then the cooldown holds).
      expect(issuer.fetches).toBeLessThanOrEqual(fetchesBefore + 1)
    })
  })

  describe('the unknown-kid flood', () => {
    const flood = async (issuer: TestIssuer, url: string) => {
      const attackerKeys = await Promise.all(Array.from({ length: 50 }, () => testKey()))
      const tokens = await Promise.all(attackerKeys.map((key) => issuer.mint({}, { key })))
      return Promise.all(tokens.map((token) => refuse(url, { auth: { token } })))
    }
    const roomy = { ratePerSecond: 1000, burst: 1000 }

    it('refuses 50 concurrent handshakes with fresh random kids, fetching the JWKS at most once per cooldown', async () => {
      const issuer = await startIssuer()
      const { url, passed } = await startRecordingServer(issuer, {
        jwks: { cooldownMs: 60_000 },
        limits: roomy,
      })
      const fetchesBefore = issuer.fetches
      const refusals = await flood(issuer, url)
      expect(refusals).toEqual(Array.from({ length: 50 }, () => refusedWith('token_invalid')))
      expect(issuer.fetches - fetchesBefore).toBeLessThanOrEqual(1)
      expect(passed).toEqual([])
      await open(url, { auth: { token: await issuer.mint() } })
      expect(passed).toHaveLength(1)
    })

    it('once the cooldown has passed, a flood of unknown kids costs exactly one JWKS fetch', async () => {
      const issuer = await startIssuer()
      const clock = movableClock()
      const { url } = await startRecordingServer(issuer, {
        jwks: { cooldownMs: 60_000 },
        limits: roomy,
        now: clock.now,
      })
      const fetchesBefore = issuer.fetches
      clock.advance(60_001)
      const refusals = await flood(issuer, url)
      expect(refusals).toEqual(Array.from({ length: 50 }, () => refusedWith('token_invalid')))
      expect(issuer.fetches - fetchesBefore).toBe(1)
    })
  })
})

/** Sign with ES256 outside jose (which refuses to sign some of the headers an attacker would send). */
async function signEs256ByHand(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  key: TestKey,
): Promise<string> {
  const input = `${b64(header)}.${b64(payload)}`
  const signature = await crypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    key.privateKey,
    new TextEncoder().encode(input),
  )
  return `${input}.${Buffer.from(signature).toString('base64url')}`
}

/** A public JWK without its kid, as an attacker would embed it. */
function withoutKid(key: TestKey): Record<string, unknown> {
  const { kid: _kid, ...jwk } = key.publicJwk
  return jwk
}
