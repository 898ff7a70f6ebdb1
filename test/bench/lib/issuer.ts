/**
 * The bench's token issuer: one ES256 key (or RS256, for a second issuer) the bench holds, its JWKS on a
 * loopback HTTP server (as test/realtime/support.ts `startIssuer()` does),
 * and a synchronous `mint` on node:crypto so a fresh token per connection
 * costs the load generator tens of microseconds, not an edge round trip.
 */
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'

/** What a child process needs to mint tokens itself (bench-only key material, never a real key). */
export interface MintKey {
  issuer: string
  kid: string
  /** PKCS#8 PEM of the bench's private key. */
  privatePem: string
  /** Its algorithm. @default 'ES256' */
  alg?: 'ES256' | 'RS256'
}

/** Claims a minted token may override. */
export interface MintClaims {
  sub?: string
  sid?: string
  /** Lifetime from now, seconds. @default 300 */
  ttlSeconds?: number
  /** How long ago it was issued (`iat`, `nbf`), seconds. @default 0 */
  issuedSecondsAgo?: number
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url')

/**
 * A synchronous minter for `key`: access tokens (typ at+jwt, ES256) with
 * the claims the realtime service requires.
 *
 * @param key - {@link MintKey}
 * @returns `mint(claims)` returning a compact JWS
 */
export function minter(key: MintKey): (claims?: MintClaims) => string {
  const privateKey: KeyObject = createPrivateKey(key.privatePem)
  const alg = key.alg ?? 'ES256'
  const header = b64url(JSON.stringify({ alg, typ: 'at+jwt', kid: key.kid }))
  const signOptions =
    alg === 'ES256'
      ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
      : { key: privateKey, padding: constants.RSA_PKCS1_PADDING }
  return function mint({
    sub = 'user-1',
    sid = 'session-1',
    ttlSeconds = 300,
    issuedSecondsAgo = 0,
  } = {}) {
    const now = Math.floor(Date.now() / 1000)
    const iat = now - issuedSecondsAgo
    const payload = b64url(
      JSON.stringify({
        iss: key.issuer,
        aud: 'realtime',
        sub,
        sid,
        jti: randomUUID(),
        name: sub,
        scope: 'bench',
        rooms: [],
        iat,
        nbf: iat,
        exp: now + ttlSeconds,
      }),
    )
    const input = `${header}.${payload}`
    const signature = sign('sha256', Buffer.from(input), signOptions)
    return `${input}.${b64url(signature)}`
  }
}

/** `token` with its signature's first character changed: well-formed, but it must not verify. */
export function forge(token: string): string {
  const at = token.lastIndexOf('.') + 1
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1)
}

/** A running bench issuer. */
export interface BenchIssuer {
  url: string
  jwksUrl: string
  /** SPKI PEM of the public key, for the jsonwebtoken-based peers. */
  publicPem: string
  key: MintKey
  mint: (claims?: MintClaims) => string
  close(): Promise<void>
}

/**
 * Generate a key and serve its JWKS on 127.0.0.1.
 *
 * @param alg - the key's algorithm: ES256, or RS256 (2048 bits) for a second issuer. @default 'ES256'
 */
export async function startBenchIssuer(alg: 'ES256' | 'RS256' = 'ES256'): Promise<BenchIssuer> {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `bench-${randomUUID().slice(0, 8)}`
  const jwks = JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }],
  })
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return void res.writeHead(404).end()
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=3600',
    })
    res.end(jwks)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const key: MintKey = {
    issuer: url,
    kid,
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    alg,
  }
  return {
    url,
    jwksUrl: `${url}/.well-known/jwks.json`,
    publicPem: createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }) as string,
    key,
    mint: minter(key),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
