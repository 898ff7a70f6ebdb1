import { DEFAULT_AUDIENCE, JWKS_PATH } from '../../shared/constants.ts'
import { createKeySet, type KeySet } from '../../shared/jwks/key-set.ts'
import { trimTrailingSlashes } from '../../shared/url.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { RevocationSet } from '../revocations/revocation-set.ts'
import type { RealtimeServerOptions } from '../server-options.ts'
import { TrustedIssuers } from './issuers/trusted-issuers.ts'
import { importNativeKey } from './native-signature.ts'
import { RoomGrants } from './room-grants.ts'
import { TokenVerifier } from './token-verifier.ts'

/** What a realtime server checks tokens with. */
export interface Verification {
  /** The edge's keys. */
  keySet: KeySet
  /** Other issuers' keys (docs/protocol.md §12), routed by `iss`. */
  trustedIssuers: TrustedIssuers
  /** Room grants at `rt:join` (docs/protocol.md §11). */
  grants: RoomGrants
  /** Access tokens at the handshake and in-band. */
  verifier: TokenVerifier
}

/** What {@link createVerification} needs besides the server's options. */
export interface VerificationParts {
  now: () => number
  logger: Logger
  metrics: Metrics
  revocations: RevocationSet
  clockToleranceSeconds: number
}

/**
 * The token checks of one realtime server: the edge's key set (native
 * signature checks, each JWK imported once), the other trusted issuers, room
 * grants and the access-token verifier, sharing one revocation set and clock.
 *
 * @param options - the server's options (issuer, audience, jwks, fetch, trustedIssuers)
 * @param parts - clock, logger, metrics, revocations and the clock tolerance
 * @example
 * ```ts
 * const { keySet, verifier, grants, trustedIssuers } = createVerification(options, parts)
 * ```
 */
export function createVerification(
  options: RealtimeServerOptions,
  parts: VerificationParts,
): Verification {
  const { now, logger, metrics, revocations, clockToleranceSeconds } = parts
  const audience = options.audience ?? DEFAULT_AUDIENCE
  const keySet =
    options.keySet ??
    createKeySet({
      jwksUrl: options.jwksUrl ?? `${trimTrailingSlashes(options.issuer)}${JWKS_PATH}`,
      issuer: options.issuer,
      ...(options.fetch && { fetch: options.fetch }),
      now,
      importNative: importNativeKey,
      ...options.jwks,
      onFetch: (outcome) => metrics.jwksFetches.inc({ outcome }),
    })
  const trustedIssuers = new TrustedIssuers({
    issuers: options.trustedIssuers ?? [],
    ...(options.fetch && { fetch: options.fetch }),
    now,
    ...(options.jwks && { jwks: options.jwks }),
    ...(options.issuerRetry && { retry: options.issuerRetry }),
    logger,
    onFetch: (issuer, kind, outcome) => metrics.issuerFetches.inc({ issuer, kind, outcome }),
  })
  const shared = {
    keySet,
    issuer: options.issuer,
    audience,
    revocations,
    clockToleranceSeconds,
    now,
  }
  const grants = new RoomGrants({
    ...shared,
    onOutcome: (outcome) => metrics.roomGrants.inc({ outcome }),
  })
  const verifier = new TokenVerifier({
    ...shared,
    trustedIssuers,
    onVerified: (kid) => metrics.tokensVerified.inc({ kid }),
    onSignatureCheck: (alg) => metrics.signatureChecks.inc({ alg }),
  })
  return { keySet, trustedIssuers, grants, verifier }
}
