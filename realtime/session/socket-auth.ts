import type { AccessClaims } from '../../shared/claims.ts'
import type { VerifiedToken } from '../auth/token-verifier.ts'

/** The verified identity of a connection (docs/protocol.md §5): `socket.data.auth`. */
export type SocketAuth = Pick<
  AccessClaims,
  'sub' | 'sid' | 'jti' | 'name' | 'scope' | 'rooms' | 'exp'
> & {
  /** The `kid` of the key that signed the token. */
  kid: string
}

/** What the server keeps on `socket.data`. */
export interface SocketData {
  auth: SocketAuth
  /** `iat` of the connection's token, for `user` revocations. */
  iat: number
  /**
   * The issuer of the connection's token when it is not the edge (docs/protocol.md §12);
   * absent for the edge's. The edge's revocation events never cover such a connection.
   */
  issuer?: string
  /** Rooms joined with a room grant (docs/protocol.md §11): kept when an in-band token's `rooms` claim would not cover them. */
  grantedRooms?: string[]
}

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

/** Whether a space-separated scope string holds `required`. */
export function hasScope(scope: string, required: string): boolean {
  return ` ${scope} `.includes(` ${required} `)
}
