import * as v from 'valibot'
import { RoomGrantClaimsSchema, type RoomGrantClaims } from '../../shared/claims.ts'
import { ROOM_GRANT_TYP } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import type { KeySet } from '../../shared/jwks/key-set.ts'
import { revokedBy } from '../revocations/check.ts'
import type { RevocationSet } from '../revocations/revocation-set.ts'
import type { SocketData } from '../identity.ts'
import { checkJwtClaims, typIs } from './jwt-claims.ts'
import { verifySignedJwsNative } from './verify-access-token-native.ts'

/** Claims a grant must carry besides `iss` and `aud` (docs/protocol.md §11). */
const REQUIRED_CLAIMS = ['sub', 'jti', 'iat', 'exp', 'rooms', 'client_id'] as const

/** Only `room+jwt`: an access token is never a grant. */
const GRANT_TYP = typIs(ROOM_GRANT_TYP)

/** Options of {@link RoomGrants}. */
export interface RoomGrantsOptions {
  /** The edge's key set: grants are signed by the edge's keys only. */
  keySet: KeySet
  /** The edge's issuer URL. */
  issuer: string
  /** Accepted `aud`, as for access tokens. */
  audience: string | string[]
  revocations: RevocationSet
  /** Seconds of leeway on `exp`/`nbf`. */
  clockToleranceSeconds: number
  /** ms clock. */
  now: () => number
  /** Called with `ok` or the refusal code of every grant checked, for metrics. */
  onOutcome?: (outcome: string) => void
}

/**
 * Room grants as `rt:join { room, grant }` presents them (docs/protocol.md
 * §11): verified without a network hop against the edge's key set, with
 * `typ` `room+jwt` only, bound to the connection's `sub` and (when the grant
 * names one) `sid`, refused once the issuing service client is disabled.
 */
export class RoomGrants {
  private readonly options: RoomGrantsOptions

  constructor(options: RoomGrantsOptions) {
    this.options = options
  }

  /**
   * Check that `grant` lets the connection `auth` join `room`.
   *
   * @param grant - the compact JWS from `rt:join`
   * @param connection - the connection's `socket.data`: its identity and issuer
   * @param room - the room asked for (not a server-managed room: the caller checks that first)
   * @returns the grant's claims
   * @throws AppError `token_malformed` | `token_invalid` | `token_expired` |
   *   `token_revoked` | `token_mismatch` | `forbidden` | `unavailable`
   * @example
   * ```ts
   * await grants.authorize(data.grant, socket.data, data.room)
   * ```
   */
  async authorize(grant: string, connection: SocketData, room: string): Promise<RoomGrantClaims> {
    try {
      const claims = await this.verify(grant, connection)
      if (!claims.rooms.includes(room)) throw new AppError('forbidden', 'room not in the grant')
      this.options.onOutcome?.('ok')
      return claims
    } catch (err) {
      this.options.onOutcome?.((err as AppError).code ?? 'error')
      throw err
    }
  }

  private async verify(
    grant: string,
    { auth, issuer: other }: SocketData,
  ): Promise<RoomGrantClaims> {
    const { keySet, issuer, audience, clockToleranceSeconds, revocations } = this.options
    const nowMs = this.options.now()
    const { header, payload, kid } = await verifySignedJwsNative(grant, keySet, {})
    checkJwtClaims(header, payload, {
      issuer,
      audience,
      clockToleranceSeconds,
      nowMs,
      typ: GRANT_TYP,
      required: REQUIRED_CLAIMS,
    })
    const parsed = v.safeParse(RoomGrantClaimsSchema, payload)
    if (!parsed.success) throw new AppError('token_invalid', 'claims do not match the grant schema')
    const claims = parsed.output
    // A connection from another issuer has a `sub` of that issuer's: an edge
    // grant for the same string names someone else (docs/protocol.md §12).
    // Refused before the revocation check, whose events are the edge's and
    // must never be read against another issuer's identity (its `sid`).
    if (other !== undefined)
      throw new AppError('token_mismatch', 'grant for a connection of another issuer')
    const seconds = nowMs / 1000
    // The grant is the edge's (edge keys only): the one check, as an edge
    // identity, bound to the connection's session when it names none.
    const revoked =
      revocations.checkClient({ clientId: claims.client_id, kid }, seconds) ??
      revokedBy(
        revocations,
        { auth: { sub: claims.sub, sid: claims.sid ?? auth.sid, kid }, iat: claims.iat },
        seconds,
      )
    if (revoked) throw new AppError('token_revoked', `grant: ${revoked} revoked`)
    if (claims.sub !== auth.sub) throw new AppError('token_mismatch', 'grant for another sub')
    if (claims.sid !== undefined && claims.sid !== auth.sid) {
      throw new AppError('token_mismatch', 'grant for another sid')
    }
    return claims
  }
}
