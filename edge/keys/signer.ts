import { SignJWT } from 'jose'
import type { SubjectClaims } from '../../shared/claims.ts'
import { ACCESS_TOKEN_TYP, type SigningAlgorithm } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import { importKek, importSigningKey } from './key-material.ts'
import { keyStore } from './store.ts'

/** A key ready to sign with, as an isolate caches it. */
export interface SigningKey {
  kid: string
  alg: SigningAlgorithm
  key: CryptoKey
  /** Unix seconds after which the isolate asks the `KEYS` object again. */
  cacheUntil: number
}

let cached: SigningKey | undefined
let inflight: Promise<SigningKey> | undefined

/**
 * The active signing key, from this isolate's cache while it is fresh, so
 * minting makes no Durable Object round trip in the steady state. The cache
 * lives at most `ACTIVE_KEY_CACHE_SECONDS`: the bound on signing with a key
 * that has just been retired, which the retirement schedule allows for.
 * Concurrent cold requests share one fetch.
 *
 * @param env - the worker's bindings
 * @param now - Unix seconds
 * @throws AppError `unavailable` when the key-encryption key is missing or wrong
 */
export async function getSigningKey(env: Env, now: number): Promise<SigningKey> {
  if (cached && now < cached.cacheUntil) return cached
  inflight ??= (async () => {
    try {
      const active = await keyStore(env).activeKey(now)
      const kek = await importKek(env.KEY_ENCRYPTION_KEY)
      const key = await importSigningKey(active, kek)
      cached = { kid: active.kid, alg: active.alg, key, cacheUntil: active.cacheUntil }
      return cached
    } catch (cause) {
      throw new AppError('unavailable', 'signing key unavailable', { cause })
    } finally {
      inflight = undefined
    }
  })()
  return inflight
}

/** Drop this isolate's cached key (after an admin rotation in this isolate). */
export function forgetSigningKey(): void {
  cached = undefined
}

/** The claims an access token is minted with; registered claims are added by {@link mintAccessToken}. */
export type MintClaims = SubjectClaims

/** Options of {@link mintAccessToken}. */
export interface MintOptions {
  issuer: string
  audience: string | string[]
  ttlSeconds: number
  /** Unix seconds. */
  now: number
}

/**
 * Sign an access token (docs/protocol.md §4): `typ: at+jwt`, `kid`, and `iss`, `aud`,
 * `sub`, `sid`, `jti`, `iat`, `nbf`, `exp`, `name`, `scope`, `rooms`, and `cnf.jkt`
 * when the session is bound to a DPoP key (§15).
 *
 * @param signer - the key to sign with
 * @param claims - the subject's claims
 * @param options - issuer, audience, lifetime and clock
 */
export function mintAccessToken(
  signer: SigningKey,
  claims: MintClaims,
  options: MintOptions,
): Promise<string> {
  const { name, sid, scope, rooms, cnf } = claims
  return signJwt(
    signer,
    ACCESS_TOKEN_TYP,
    { name, sid, scope, rooms, ...(cnf && { cnf: { jkt: cnf.jkt } }) },
    { ...options, subject: claims.sub, notBefore: true },
  )
}

/** The registered claims of a token this edge signs. */
export interface RegisteredClaims {
  issuer: string
  audience: string | string[]
  subject: string
  /** Lifetime, seconds. */
  ttlSeconds: number
  /** Unix seconds: `iat` (and `nbf` with `notBefore`). */
  now: number
  /** Set `nbf` = `iat`. @default false */
  notBefore?: boolean
}

/**
 * Sign a JWS with the edge's key: the one place every token kind (access,
 * service, room grant) gets its header and registered claims, so each kind
 * differs only in `typ` and its own claims. A fresh `jti` every time.
 *
 * @param signer - the active key
 * @param typ - the header `typ` that keeps the kinds apart
 * @param claims - the kind's own claims
 * @param registered - issuer, audience, subject, lifetime and clock
 * @example
 * ```ts
 * await signJwt(signer, 'at+jwt', { scope: 'publish' }, { issuer, audience, subject, ttlSeconds: 300, now })
 * ```
 */
export function signJwt(
  signer: SigningKey,
  typ: string,
  claims: Record<string, unknown>,
  registered: RegisteredClaims,
): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: signer.alg, typ, kid: signer.kid })
    .setIssuer(registered.issuer)
    .setAudience(registered.audience)
    .setSubject(registered.subject)
    .setJti(crypto.randomUUID())
    .setIssuedAt(registered.now)
    .setExpirationTime(registered.now + registered.ttlSeconds)
  if (registered.notBefore) jwt.setNotBefore(registered.now)
  return jwt.sign(signer.key)
}
