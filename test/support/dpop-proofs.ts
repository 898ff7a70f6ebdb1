/**
 * DPoP proofs for tests, built with jose so every field can be set wrong on
 * purpose (panva's `dpop` makes only good ones). Runs in Node and in workerd.
 */
import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose'

/** A client's DPoP key pair, its public JWK and thumbprint. */
export interface ProofKey {
  alg: 'ES256' | 'EdDSA'
  privateKey: CryptoKey
  publicJwk: JWK
  privateJwk: JWK
  jkt: string
}

/**
 * A fresh key pair for proofs.
 *
 * @param alg - ES256 (default) or EdDSA (Ed25519)
 */
export async function proofKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ProofKey> {
  const pair = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' && { crv: 'Ed25519' }),
  })
  const publicJwk = await exportJWK(pair.publicKey)
  const privateJwk = await exportJWK(pair.privateKey)
  return {
    alg,
    privateKey: pair.privateKey,
    publicJwk,
    privateJwk,
    jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
  }
}

/** What a proof says; every field may be overridden or removed (`null`). */
export interface ProofFields {
  htm: string
  htu: string
  /** ath is computed from it. */
  accessToken?: string
  nonce?: string
  /** Seconds. @default now */
  iat?: number | null
  /** @default a random UUID */
  jti?: string | null
  /** Header `alg`. @default the key's */
  alg?: string
  /** Header `typ`. @default dpop+jwt; null drops it */
  typ?: string | null
  /** Header `jwk`. @default the key's public JWK; null drops it */
  jwk?: JWK | null
  /** Extra or replacing claims. */
  claims?: Record<string, unknown>
  /** Extra or replacing header parameters. */
  header?: Record<string, unknown>
}

/**
 * Sign a proof with `key` (or, for `alg: 'none'`, leave it unsigned; for
 * `alg: 'HS256'`, MAC it with a key made from the public JWK's `x`).
 *
 * @param key - the signer
 * @param fields - {@link ProofFields}
 */
export async function signProof(key: ProofKey, fields: ProofFields): Promise<string> {
  const header: Record<string, unknown> = {
    alg: fields.alg ?? key.alg,
    ...(fields.typ !== null && { typ: fields.typ ?? 'dpop+jwt' }),
    ...(fields.jwk !== null && { jwk: fields.jwk ?? key.publicJwk }),
    ...fields.header,
  }
  const claims: Record<string, unknown> = {
    htm: fields.htm,
    htu: fields.htu,
    ...(fields.iat !== null && { iat: fields.iat ?? Math.floor(Date.now() / 1000) }),
    ...(fields.jti !== null && { jti: fields.jti ?? crypto.randomUUID() }),
    ...(fields.nonce !== undefined && { nonce: fields.nonce }),
    ...(fields.accessToken !== undefined && { ath: await sha256(fields.accessToken) }),
    ...fields.claims,
  }
  const alg = header.alg
  if (alg === 'none') {
    return `${b64json(header)}.${b64json(claims)}.`
  }
  if (alg === 'HS256') {
    const secret = new TextEncoder().encode(String(key.publicJwk.x))
    return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(secret)
  }
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey)
}

/** base64url(SHA-256(token)), the `ath` of a proof. */
export async function sha256(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value))
  return base64url.encode(new Uint8Array(digest))
}

function b64json(value: unknown): string {
  return base64url.encode(JSON.stringify(value))
}
