import type { AccessClaims } from './claims.ts'
import { DEFAULT_AUDIENCE, JWKS_PATH } from './constants.ts'
import { AppError } from './errors.ts'
import { createKeySet, type KeySetOptions } from './jwks/key-set.ts'
import { verifyAccessToken, type VerifiedAccessToken } from './verify-access-token.ts'
import { createMemoryReplayCache, type DpopReplayCache } from './dpop/replay-cache.ts'
import {
  verifyTokenRequest,
  type DpopNonceSource,
  type HttpRequestLike,
  type VerifiedTokenRequest,
} from './verify-request.ts'
import { trimTrailingSlashes } from './url.ts'

/** Options of {@link createVerifier}. */
export interface VerifierOptions {
  /** The edge's issuer URL (`iss`). */
  issuer: string
  /** Accepted `aud`. @default 'realtime' */
  audience?: string | string[]
  /** Where the keys are. @default `${issuer}/.well-known/jwks.json` */
  jwksUrl?: string
  /** Leeway on `exp`/`nbf`, seconds. @default 5 */
  clockToleranceSeconds?: number
  /**
   * Your revocation check, if you have one (for example fed by the edge's
   * revocation feed): return true to refuse a token as `token_revoked`.
   */
  isRevoked?: (token: VerifiedAccessToken) => boolean | Promise<boolean>
  /** Key-set tuning: fetch, cooldownMs, maxStaleMs, timeoutMs, now. */
  keySet?: Omit<KeySetOptions, 'jwksUrl' | 'issuer'>
  /**
   * (v1.2) DPoP for {@link Verifier.verifyRequest} (docs/dpop.md): `replayCache` remembers
   * proofs' `jti`s (share one, e.g. Redis-backed, across every instance serving the same
   * URLs; default: a bounded memory cache of this verifier, 100,000 `jti`s); `nonce` asks
   * for server nonces.
   */
  dpop?: { replayCache?: DpopReplayCache; nonce?: DpopNonceSource }
}

/** A verifier of edgegate access tokens. */
export interface Verifier {
  /**
   * Verify a token.
   *
   * @throws AppError `token_malformed` | `token_invalid` | `token_expired` | `token_revoked` | `unavailable`
   */
  verify(token: string): Promise<VerifiedAccessToken>
  /**
   * (v1.2) Verify an HTTP request's token as a resource server does (RFC 9449 §7;
   * docs/protocol.md §15): `Authorization: Bearer <token>` for an unbound token,
   * `Authorization: DPoP <token>` with a `DPoP` proof of this request for a bound one.
   *
   * @param request - `{ method, url, headers }`, the absolute URL the client called
   * @throws AppError as {@link Verifier.verify}, and `dpop_required`, `dpop_invalid`,
   *   `dpop_nonce_required` (a `DpopNonceError` with the `nonce` to retry with)
   */
  verifyRequest(request: HttpRequestLike): Promise<VerifiedTokenRequest>
  /** Stop background work (key refreshes). */
  close(): void
}

/**
 * A verifier of edgegate access tokens for other services, with the same
 * checks as the realtime handshake. The token must be at most 4 KiB and a
 * compact JWS with a string `kid`. It must be signed by a key of the edge's
 * JWKS, with `alg` equal to that key's `alg` and never `none` or an HMAC.
 * Then `typ: at+jwt`, `iss`, `aud`, `exp` and `nbf` within the tolerance,
 * and the required claims, plus your revocation check if you give one.
 *
 * The JWKS client behind it honours the JWKS cache headers, refetches once
 * per cooldown for an unknown `kid`, and keeps verifying with the last good
 * keys while the edge is briefly unreachable.
 *
 * @param options - {@link VerifierOptions}
 * @example
 * ```ts
 * import { createVerifier } from 'edgegate'
 *
 * const verifier = createVerifier({ issuer: 'https://auth.example.com', audience: 'api' })
 * const { claims } = await verifier.verify(bearerToken) // claims.sub, claims.scope, …
 * // or the whole request, DPoP-bound tokens included:
 * const { claims: c } = await verifier.verifyRequest({ method: 'GET', url, headers })
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (!options.issuer) throw new TypeError('createVerifier: issuer is required')
  const issuer = trimTrailingSlashes(options.issuer)
  const keySet = createKeySet({
    ...options.keySet,
    jwksUrl: options.jwksUrl ?? `${issuer}${JWKS_PATH}`,
    issuer,
  })
  const replayCache = options.dpop?.replayCache ?? createMemoryReplayCache()
  const verifier: Verifier = {
    async verify(token) {
      if (typeof token !== 'string' || token === '') throw new AppError('token_missing', 'no token')
      const now = options.keySet?.now?.() ?? Date.now()
      const verified = await verifyAccessToken(token, keySet.getKey, {
        issuer,
        audience: options.audience ?? DEFAULT_AUDIENCE,
        ...(options.clockToleranceSeconds !== undefined && {
          clockToleranceSeconds: options.clockToleranceSeconds,
        }),
        currentDate: new Date(now),
      })
      if (options.isRevoked && (await options.isRevoked(verified))) {
        throw new AppError('token_revoked', 'revoked by the caller')
      }
      return verified
    },
    verifyRequest: (request) =>
      verifyTokenRequest(request, (token) => verifier.verify(token), {
        replayCache,
        nonce: options.dpop?.nonce,
        now: options.keySet?.now,
      }),
    close: () => keySet.close(),
  }
  return verifier
}

export type { AccessClaims, VerifiedAccessToken, HttpRequestLike, VerifiedTokenRequest }
