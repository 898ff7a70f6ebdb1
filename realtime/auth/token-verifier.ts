import type { AccessClaims } from '../../shared/claims.ts'
import { CLOCK_TOLERANCE_SECONDS } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import { verifyAccessTokenNative } from './verify-access-token-native.ts'
import type { RevocationSet, RevocationSubject } from '../revocations/revocation-set.ts'
import type { KeySet } from '../../shared/jwks/key-set.ts'

/** A token that passed every check. */
export interface VerifiedToken {
  claims: AccessClaims
  kid: string
  /** The compact JWS itself, so a connection can tell its own token when an envelope repeats it. */
  token: string
}

/** Options of {@link TokenVerifier}. */
export interface TokenVerifierOptions {
  keySet: KeySet
  issuer: string
  audience: string | string[]
  revocations: RevocationSet
  /** Seconds of leeway on `exp`/`nbf`. @default 5 */
  clockToleranceSeconds?: number
  /**
   * Tokens whose signature check is remembered. The cache is for tokens seen
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
 * signature check of a token already seen is remembered (an LRU keyed by the
 * exact token string, so a forged token can never hit), but the time and
 * revocation checks run on every call.
 */
export class TokenVerifier {
  private readonly cache = new Map<string, VerifiedToken>()
  private readonly options: Required<Omit<TokenVerifierOptions, 'onVerified' | 'onSignatureCheck'>> &
    Pick<TokenVerifierOptions, 'onVerified' | 'onSignatureCheck'>

  constructor(options: TokenVerifierOptions) {
    this.options = {
      clockToleranceSeconds: CLOCK_TOLERANCE_SECONDS,
      cacheSize: 1024,
      now: Date.now,
      ...options,
    }
  }

  /**
   * Verify `token` completely.
   *
   * @throws AppError with a realtime code
   */
  async verify(token: string): Promise<VerifiedToken> {
    const { now, clockToleranceSeconds: tolerance } = this.options
    const nowMs = now()
    let verified = this.cache.get(token)
    if (verified) {
      // Refresh its LRU position.
      this.cache.delete(token)
      this.cache.set(token, verified)
      const seconds = nowMs / 1000
      if (verified.claims.exp + tolerance <= seconds) throw new AppError('token_expired', '"exp" claim check failed')
      if (verified.claims.nbf - tolerance > seconds) throw new AppError('token_invalid', '"nbf" claim check failed')
    } else {
      // The allow-list is the key set's (never `none` or an HMAC), and the
      // header's alg must equal the selected key's. node:crypto checks the
      // signature synchronously once the key is held (docs/protocol.md §5).
      const { onSignatureCheck } = this.options
      verified = {
        token,
        ...(await verifyAccessTokenNative(token, this.options.keySet, {
          issuer: this.options.issuer,
          audience: this.options.audience,
          clockToleranceSeconds: tolerance,
          nowMs,
          ...(onSignatureCheck && { onSignatureCheck }),
        })),
      }
      this.cache.set(token, verified)
      if (this.cache.size > this.options.cacheSize) this.cache.delete(this.cache.keys().next().value!)
    }
    this.assertNotRevoked({ ...verified.claims, kid: verified.kid }, nowMs / 1000)
    this.options.onVerified?.(verified.kid)
    return verified
  }

  /**
   * @throws AppError `token_revoked` when an event in force covers the token
   */
  assertNotRevoked(subject: RevocationSubject, nowSeconds: number): void {
    const kind = this.options.revocations.check(subject, nowSeconds)
    if (kind) throw new AppError('token_revoked', `${kind} revoked`)
  }
}
