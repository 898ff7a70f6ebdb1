import type { VerifiedAccessToken } from '../../shared/verify-access-token.ts'
import { AppError } from '../../shared/errors.ts'
import type { HeldKey, KeySet } from '../../shared/jwks/key-set.ts'
import { checkAccessClaims, type AccessClaimsCheck } from './access-claims.ts'
import { parseCompactJws, parseJsonObject } from './compact-jws.ts'
import { importNativeKey, verifyNative, type NativeKey } from './native-signature.ts'

/** Options of {@link verifyAccessTokenNative}. */
export type VerifyAccessTokenNativeOptions = Omit<AccessClaimsCheck, 'nowMs'> & {
  /** ms clock reading for this check. */
  nowMs: number
  /** Called once per signature actually checked (not for cache hits upstream), for metrics and tests. */
  onSignatureCheck?: (alg: string) => void
}

/** Keys the key set held without a native import (a key set built without `importNative`): imported once each. */
const lateImports = new WeakMap<HeldKey, NativeKey>()

/**
 * Verify an access token in Node with node:crypto, synchronously once the key
 * is held: the strict compact-form checks, `alg` in the key set's allow-list
 * and equal to the key's, the signature, then the same `typ` and claim checks
 * as `verifyAccessToken` (docs/protocol.md §5). The key is chosen by `kid`
 * from the configured key set alone; `jku`, `x5u`, `jwk` are never read.
 *
 * @param token - the compact JWS
 * @param keySet - the issuer's key set (its `importNative` should be {@link importNativeKey})
 * @param options - {@link VerifyAccessTokenNativeOptions}
 * @throws AppError `token_malformed` | `token_invalid` | `token_expired` | `unavailable`
 * @example
 * ```ts
 * const { claims, kid } = await verifyAccessTokenNative(token, keySet, {
 *   issuer, audience: 'realtime', clockToleranceSeconds: 5, nowMs: Date.now(),
 * })
 * ```
 */
export async function verifyAccessTokenNative(
  token: string,
  keySet: KeySet,
  options: VerifyAccessTokenNativeOptions,
): Promise<VerifiedAccessToken> {
  const { header, payload, kid } = await verifySignedJwsNative(token, keySet, options)
  return { claims: checkAccessClaims(header, payload, options), kid }
}

/** A compact JWS whose signature holds, taken apart; its claims are not yet checked. */
export interface SignedJws {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  kid: string
}

/**
 * The signature half of every native check (access tokens, other issuers'
 * tokens, room grants): the strict compact-form checks, `alg` in the key
 * set's allow-list and equal to the key's, the key chosen by `kid` from this
 * key set alone, the signature, then the payload as a JSON object.
 *
 * @param token - the compact JWS
 * @param keySet - the one issuer's key set the token is checked against
 * @param options - `onSignatureCheck`, called once the signature is about to be checked
 * @throws AppError `token_malformed` | `token_invalid` | `unavailable`
 * @example
 * ```ts
 * const { header, payload, kid } = await verifySignedJwsNative(grant, keySet, {})
 * ```
 */
export async function verifySignedJwsNative(
  token: string,
  keySet: KeySet,
  options: Pick<VerifyAccessTokenNativeOptions, 'onSignatureCheck'>,
): Promise<SignedJws> {
  const jws = parseCompactJws(token)
  if (!(keySet.allowedAlgorithms as readonly string[]).includes(jws.alg)) {
    throw new AppError('token_invalid', 'token rejected (alg not allowed)')
  }
  const held = keySet.peek(jws.kid) ?? (await keySet.resolve(jws.kid))
  if (held.alg !== jws.alg) throw new AppError('token_invalid', 'header alg does not match the key')
  options.onSignatureCheck?.(jws.alg)
  if (!verifyNative(nativeKeyOf(held), jws.signingInput, jws.signature)) {
    throw new AppError('token_invalid', 'token rejected (signature)')
  }
  const payload = parseJsonObject(Buffer.from(jws.payloadSegment, 'base64url'))
  if (!payload) throw new AppError('token_malformed', 'not a valid JWS/JWT')
  return { header: jws.header, payload, kid: jws.kid }
}

function nativeKeyOf(held: HeldKey): NativeKey {
  const imported = held.native as NativeKey | undefined
  if (imported?.alg === held.alg) return imported
  let late = lateImports.get(held)
  if (!late) {
    const jwk = JSON.parse(held.fingerprint)[1] as object
    late = importNativeKey(jwk, held.alg)
    lateImports.set(held, late)
  }
  return late
}
