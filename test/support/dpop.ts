/**
 * DPoP test helpers (docs/protocol.md §15): a client key pair with panva's
 * `dpop` (as the SDK makes them), its proofs, and hand-signed proofs with
 * jose for the hostile cases (another htu, htm or token, a wrong iat, alg
 * none or HS256, a private key in the header).
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop'
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair as joseKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
} from 'jose'
import { createHash, createHmac, randomUUID } from 'node:crypto'

/** A client's DPoP key pair and its thumbprint (`cnf.jkt`). */
export interface DpopKey {
  pair: KeyPair
  jkt: string
}

/** A fresh non-extractable P-256 key pair, as the SDK makes one. */
export async function dpopKey(): Promise<DpopKey> {
  const pair = await generateKeyPair('ES256')
  return { pair, jkt: await calculateThumbprint(pair.publicKey) }
}

/** A proof for `htm` `htu`, bound to `token` (its `ath`) when given. */
export function proof(
  key: DpopKey,
  htu: string,
  htm: string,
  options: { token?: string; nonce?: string } = {},
): Promise<string> {
  return generateProof(key.pair, htu, htm, options.nonce, options.token)
}

/** `ath` of a token, computed here without the code under test. */
export function ath(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/**
 * A proof signed by hand: the good claims for `htm` `htu` and `token`, with
 * `claims` and `header` merged over them (undefined removes one).
 */
export async function handProof(
  key: { privateKey: CryptoKey; publicJwk: JWK },
  htu: string,
  htm: string,
  token: string,
  overrides: { claims?: JWTPayload; header?: Record<string, unknown> } = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    htu,
    htm,
    jti: randomUUID(),
    iat: Math.floor(Date.now() / 1000),
    ath: ath(token),
    ...overrides.claims,
  }
  const header: Record<string, unknown> = {
    alg: 'ES256',
    typ: 'dpop+jwt',
    jwk: key.publicJwk,
    ...overrides.header,
  }
  for (const o of [payload, header])
    for (const [k, v] of Object.entries(o)) if (v === undefined) delete o[k]
  return new SignJWT(payload).setProtectedHeader(header as never).sign(key.privateKey)
}

/** An extractable ES256 key for {@link handProof}, its public JWK and thumbprint. */
export async function handKey(): Promise<{
  privateKey: CryptoKey
  publicJwk: JWK
  privateJwk: JWK
  jkt: string
}> {
  const { privateKey, publicKey } = await joseKeyPair('ES256', { extractable: true })
  const publicJwk = await exportJWK(publicKey)
  const privateJwk = await exportJWK(privateKey)
  return {
    privateKey: privateKey as CryptoKey,
    publicJwk,
    privateJwk,
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  }
}

/** An unsigned (`alg: none`) proof. */
export function unsignedProof(claims: Record<string, unknown>, jwk: JWK): string {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o))
  return `${enc({ alg: 'none', typ: 'dpop+jwt', jwk })}.${enc(claims)}.`
}

/** A proof MACed with HS256 (the header still names a public key). */
export function hmacProof(claims: Record<string, unknown>, jwk: JWK, secret: string): string {
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o))
  const input = `${enc({ alg: 'HS256', typ: 'dpop+jwt', jwk })}.${enc(claims)}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}
