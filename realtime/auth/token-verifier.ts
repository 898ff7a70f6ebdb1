import type { AccessClaims } from '../../shared/claims.ts'
import { CLOCK_TOLERANCE_SECONDS } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import { verifyAccessTokenNative } from './verify-access-token-native.ts'
import type { RevocableIdentity } from '../identity.ts'
import { assertNotRevoked } from '../revocations/check.ts'
import type { RevocationSet } from '../revocations/revocation-set.ts'
import type { KeySet } from '../../shared/jwks/key-set.ts'
import { peekIssuer, type TrustedIssuers } from './issuers/trusted-issuers.ts'
import { RecentCache } from './recent-cache.ts'

/** A token that passed every check. */
export interface VerifiedToken {
  claims: AccessClaims
  kid: string
  /** The compact JWS itself, so a connection can tell its own token when an envelope repeats it. */
  token: string
  /** The issuer, when it is another trusted issuer and not the edge (docs/protocol.md §12). */
  issuer?: string
}

/** A cache entry: the verified token and the identity its revocation check reads. */
type CachedToken = VerifiedToken & { readonly identity: RevocableIdentity }

/** Options of {@link TokenVerifier}. */
export interface TokenVerifierOptions {
  keySet: KeySet
  issuer: string
  audience: string | string[]
  revocations: RevocationSet
  /**
   * Issuers trusted besides the edge (docs/protocol.md §12): a token naming
   * one of them is checked with that issuer's keys alone. @default none
   */
  trustedIssuers?: TrustedIssuers
  /** Seconds of leeway on `exp`/`nbf`. @default 5 */
  clockToleranceSeconds?: number
  /**
   * Tokens whose signature check is remembered (0 remembers none). The cache is for tokens seen
   * again soon (a reconnect, a second tab, one in-band token on several
   * sockets), not one entry per open connection: about 250 bytes each.
   * @default 1024
   */
  cacheSize?: number
  /** ms clock. @default Date.now */
  now?: () => number
  /** Called with the `kid` of every token that passes (for per-key metrics). */
  onVerified?: (kid: string) => void
  /** Called with the `alg` of every signature actually checked: a cache hit checks none. */
  onSignatureCheck?: (alg: string) => void
}

/**
 * Verifies access tokens for the realtime service: the checks of
 * `verifyAccessToken`, made natively with node:crypto against the edge's key
 * set, then revocation. The
 * signature check of a token already seen is remembered (a
 * {@link RecentCache} keyed by the exact token string, so a forged token can never hit), but the time and
 * revocation checks run on every call.
 */
export class TokenVerifier {
  private readonly cache: RecentCache<string, CachedToken>
  private readonly options: Required<
    Omit<TokenVerifierOptions, 'onVerified' | 'onSignatureCheck' | 'trustedIssuers'>
  > &
    Pick<TokenVerifierOptions, 'onVerified' | 'onSignatureCheck' | 'trustedIssuers'>

  constructor(options: TokenVerifierOptions) {
    this.options = {
      clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
      cacheSize: 1024,
      now: Date.now,
      ...options,
    }
    this.cache = new RecentCache(this.options.cacheSize)
  }

  /**
   * Verify `token` completely.
   *
   * @throws AppError with a realtime code
   */
  async verify(token: string): Promise<VerifiedToken> {
    const nowMs = this.options.now()
    const recalled = this.recallAt(token, nowMs)
    if (recalled) return recalled
    const { claims, kid, issuer } = await this.verifySignature(token, nowMs)
    // The identity this token is about to be given, built once per token:
    // a token seen again is checked against revocations with no allocation.
    const identity = { auth: { sub: claims.sub, sid: claims.sid, kid }, iat: claims.iat, issuer }
    const verified: CachedToken = {
      token,
      claims,
      kid,
      ...(issuer !== undefined && { issuer }),
      identity,
    }
    this.cache.set(token, verified)
    return this.admit(verified, nowMs)
  }

  /**
   * Verify a token whose signature was checked recently, synchronously: the
   * time and revocation checks of {@link TokenVerifier.verify}, without the
   * promise and the tick a reconnect would otherwise pay.
   *
   * @returns the verified token, or undefined when its signature is not remembered (call `verify`)
   * @throws AppError with a realtime code, as `verify`
   */
  recall(token: string): VerifiedToken | undefined {
    return this.recallAt(token, this.options.now())
  }

  private recallAt(token: string, nowMs: number): VerifiedToken | undefined {
    const verified = this.cache.get(token)
    if (!verified) return undefined
    const seconds = nowMs / 1000
    const tolerance = this.options.clockToleranceSeconds
    if (verified.claims.exp + tolerance <= seconds)
      throw new AppError('token_expired', '"exp" claim check failed')
    if (verified.claims.nbf - tolerance > seconds)
      throw new AppError('token_invalid', '"nbf" claim check failed')
    return this.admit(verified, nowMs)
  }

  /** The checks every call makes, cached or not: revocation, then the per-key count. */
  private admit(verified: CachedToken, nowMs: number): VerifiedToken {
    // Checked before the identity is written, on every call (events arrive at any time).
    assertNotRevoked(this.options.revocations, verified.identity, nowMs / 1000)
    this.options.onVerified?.(verified.kid)
    return verified
  }

  /**
   * The checks a cache hit skips: routed by `iss` to exactly one issuer's
   * key set (the edge's unless another trusted issuer is named), then the
   * signature, `typ` and claims.
   */
  private async verifySignature(
    token: string,
    nowMs: number,
  ): Promise<Omit<VerifiedToken, 'token'>> {
    const { trustedIssuers, onSignatureCheck, clockToleranceSeconds } = this.options
    if (trustedIssuers && trustedIssuers.size > 0) {
      const iss = peekIssuer(token)
      if (iss !== undefined && iss !== this.options.issuer) {
        // An unlisted issuer costs no key lookup (and no JWKS refetch).
        if (!trustedIssuers.has(iss))
          throw new AppError('token_invalid', '"iss" not a trusted issuer')
        const verified = await trustedIssuers.verify(token, iss, {
          clockToleranceSeconds,
          nowMs,
          ...(onSignatureCheck && { onSignatureCheck }),
        })
        return { ...verified, issuer: iss }
      }
    }
    // The allow-list is the key set's (never `none` or an HMAC), and the
    // header's alg must equal the selected key's. node:crypto checks the
    // signature synchronously once the key is held (docs/protocol.md §5).
    return verifyAccessTokenNative(token, this.options.keySet, {
      issuer: this.options.issuer,
      audience: this.options.audience,
      clockToleranceSeconds,
      nowMs,
      ...(onSignatureCheck && { onSignatureCheck }),
    })
  }

  /**
   * The revocation check of a connection's identity, as every message makes
   * it: `revokedBy` (revocations/check.ts), the one check, on `socket.data`.
   *
   * @throws AppError `token_revoked` when an event in force covers the identity
   */
  assertNotRevoked(identity: RevocableIdentity, nowSeconds: number): void {
    assertNotRevoked(this.options.revocations, identity, nowSeconds)
  }
}
