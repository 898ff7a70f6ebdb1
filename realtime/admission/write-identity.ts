import type { AccessClaims } from '../../shared/claims.ts'
import type { VerifiedToken } from '../auth/token-verifier.ts'
import type { SocketAuth, SocketData } from '../identity.ts'

/** The `socket.data.auth` of a verified token. */
export function socketAuthOf(claims: AccessClaims, kid: string): SocketAuth {
  return {
    sub: claims.sub,
    sid: claims.sid,
    jti: claims.jti,
    name: claims.name,
    scope: claims.scope,
    rooms: claims.rooms,
    exp: claims.exp,
    kid,
  }
}

/**
 * Make a verified token the connection's identity: the one place that writes
 * `socket.data` (at the handshake, and again for an in-band token). Only the
 * fields of {@link SocketAuth}, `iat` and, for another issuer's token, its
 * `issuer` are kept, not the claims object.
 *
 * @param data - the socket's `socket.data`
 * @param verified - the token that passed every check
 * @example
 * ```ts
 * writeIdentity(socket.data, await verifier.verify(token))
 * ```
 */
export function writeIdentity(data: Partial<SocketData>, verified: VerifiedToken): void {
  data.auth = socketAuthOf(verified.claims, verified.kid)
  data.iat = verified.claims.iat
  // Set only for another trusted issuer's token (docs/protocol.md §12).
  if (verified.issuer === undefined) delete data.issuer
  else data.issuer = verified.issuer
}
