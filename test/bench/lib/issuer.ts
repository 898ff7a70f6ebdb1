/**
 * The bench's token issuer: an ES256 key and an RS256 key the bench holds, their JWKS on a
 * loopback HTTP server (as test/realtime/support.ts `startIssuer()` does),
 * and a synchronous `mint` on node:crypto so a fresh token per connection
 * costs the load generator tens of microseconds, not an edge round trip.
 */
import {
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
  /** The key's `alg`. @default 'ES256' */
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
  /** The DPoP key the token is bound to (docs/protocol.md §15). @default unbound */
  jkt?: string
}

const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url')

/**
 * A synchronous minter for `key`: access tokens (typ at+jwt, ES256 or RS256)
 * with the claims the realtime service requires.
 *
 * @param key - {@link MintKey}
 * @returns `mint(claims)` returning a compact JWS
 */
export function minter(key: MintKey): (claims?: MintClaims) => string {
  const privateKey: KeyObject = createPrivateKey(key.privatePem)
  const alg = key.alg ?? 'ES256'
  const header = b64url(JSON.stringify({ alg, typ: 'at+jwt', kid: key.kid }))
  return function mint({
    sub = 'user-1',
    sid = 'session-1',
    ttlSeconds = 300,
    issuedSecondsAgo = 0,
    jkt,
  }: MintClaims = {}) {
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
        ...(jkt !== undefined && { cnf: { jkt } }),
      }),
    )
    const input = `${header}.${payload}`
    // RS256 is PKCS#1 v1.5, node's default for an RSA key; ES256 is r || s (RFC 7518 §3.4).
    const signature = sign('sha256', Buffer.from(input), {
      key: privateKey,
      ...(alg === 'ES256' && { dsaEncoding: 'ieee-p1363' as const }),
    })
    return `${input}.${b64url(signature)}`
  }
}

/** `token` with its signature's first character changed: well-formed, but it must not verify. */
export function forge(token: string): string {
  const at = token.lastIndexOf('.') + 1
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1)
}

/** Where a handshake's token comes from: a new ES256 or RS256 one, or one recently seen. */
export type HandshakeTokens = 'fresh' | 'recent' | 'rs256'

/**
 * Tokens for handshakes, minted before any clock starts (the load generator's signing is not
 * measured): `fresh` and `rs256` ones each for a new user and session (`<prefix>-u<n>`), and
 * `recent` ones taken in turn from one pool of `poolSize`, which a server is shown first so
 * that they are reconnects.
 */
export function handshakeTokens(issuer: BenchIssuer, prefix: string, poolSize: number) {
  let serial = 0
  const identity = () => {
    const i = ++serial
    return { sub: `${prefix}-u${i}`, sid: `${prefix}-s${i}`, ttlSeconds: 3600 }
  }
  const pool = Array.from({ length: poolSize }, () => issuer.mint(identity()))
  let cursor = 0
  const tokens = (kind: HandshakeTokens, n: number): string[] =>
    Array.from({ length: n }, () =>
      kind === 'recent'
        ? pool[cursor++ % poolSize]!
        : kind === 'rs256'
          ? issuer.mintRs256(identity())
          : issuer.mint(identity()),
    )
  return { identity, tokens }
}

/** A running bench issuer. */
export interface BenchIssuer {
  url: string
  jwksUrl: string
  /** SPKI PEM of the public key, for the jsonwebtoken-based peers. */
  publicPem: string
  key: MintKey
  mint: (claims?: MintClaims) => string
  /** A second key in the same JWKS, RS256 (2048-bit), for the RS256 handshake rows. */
  rs256Key: MintKey
  mintRs256: (claims?: MintClaims) => string
  close(): Promise<void>
}

/** Generate the keys (ES256 and RS256) and serve their JWKS on 127.0.0.1. */
export async function startBenchIssuer(): Promise<BenchIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `bench-${randomUUID().slice(0, 8)}`
  const rsKid = `bench-rs-${randomUUID().slice(0, 8)}`
  const jwks = JSON.stringify({
    keys: [
      { ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' },
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: rsKid, alg: 'RS256', use: 'sig' },
    ],
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
  }
  const rs256Key: MintKey = {
    issuer: url,
    kid: rsKid,
    privatePem: rsa.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    alg: 'RS256',
  }
  return {
    url,
    jwksUrl: `${url}/.well-known/jwks.json`,
    publicPem: createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }) as string,
    key,
    mint: minter(key),
    rs256Key,
    mintRs256: minter(rs256Key),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
