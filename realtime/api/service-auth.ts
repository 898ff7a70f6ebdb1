import type { JWTVerifyGetKey } from 'jose'
import { AppError } from '../../shared/errors.ts'
import { extractToken } from '../admission/token-source.ts'
import { verifyServiceToken, type ServiceTokenClaims } from '../../shared/verify-service-token.ts'
import { SERVICE_TOKEN_CACHE_SIZE } from '../constants.ts'
import type { RevocationSet } from '../revocations/revocation-set.ts'
import { hasScope } from '../identity.ts'

/** The service client behind a server-API request. */
export interface ServiceIdentity {
  clientId: string
  scope: string
  kid: string
}

/** Options of {@link createServiceAuth}. */
export interface ServiceAuthOptions {
  /** The edge's keys: the same set the handshake uses. */
  getKey: JWTVerifyGetKey
  /** Whether the keys have been loaded (else 503 `unavailable`). */
  keysReady: () => boolean
  issuer: string
  revocations: RevocationSet
  /** Seconds of leeway on `exp`/`nbf`. */
  clockToleranceSeconds: number
  /** ms clock. */
  now: () => number
}

/**
 * Authenticate a server-API request (docs/protocol.md §8): `Authorization:
 * Bearer <service token>` verified like a handshake token but for the
 * audience `realtime-api`, then the `client` and `key` revocations, then the
 * scope the route needs.
 *
 * @returns a function from the Authorization header and the route's scope to the caller
 * @throws AppError with a token code (401), `forbidden` (403) or `unavailable` (503)
 */
export function createServiceAuth(options: ServiceAuthOptions) {
  // A service reuses one token for minutes: its signature check is
  // remembered, keyed by the exact token string (a forged token never hits);
  // the time and revocation checks run every time.
  const verified = new Map<string, { claims: ServiceTokenClaims; kid: string }>()
  return async function authenticate(
    header: string | undefined,
    scope: string,
  ): Promise<ServiceIdentity> {
    // The handshake's reader of `Authorization: Bearer`: missing → token_missing, another scheme → token_malformed.
    const token = extractToken({ auth: undefined, headers: { authorization: header }, query: {} })
    if (!options.keysReady()) throw new AppError('unavailable', 'signing keys not loaded')
    const nowMs = options.now()
    let hit = verified.get(token)
    if (hit) {
      if (hit.claims.exp + options.clockToleranceSeconds <= nowMs / 1000) {
        verified.delete(token)
        throw new AppError('token_expired', '"exp" claim check failed')
      }
    } else {
      hit = await verifyServiceToken(token, options.getKey, {
        issuer: options.issuer,
        clockToleranceSeconds: options.clockToleranceSeconds,
        currentDate: new Date(nowMs),
      })
      verified.set(token, hit)
      if (verified.size > SERVICE_TOKEN_CACHE_SIZE) verified.delete(verified.keys().next().value!)
    }
    const { claims, kid } = hit
    const revoked = options.revocations.checkClient(
      { clientId: claims.client_id, kid },
      nowMs / 1000,
    )
    if (revoked) throw new AppError('token_revoked', `${revoked} revoked`)
    if (!hasScope(claims.scope, scope)) throw new AppError('forbidden', `scope ${scope} missing`)
    return { clientId: claims.client_id, scope: claims.scope, kid }
  }
}
