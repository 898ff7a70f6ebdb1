import type { AccessClaims } from '../../shared/claims.ts'

/** The verified identity of a connection (PROTOCOL §5): `socket.data.auth`. */
export interface SocketAuth {
  sub: string
  sid: string
  jti: string
  name: string
  scope: string
  rooms: string[]
  exp: number
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

/** Whether a space-separated scope string holds `required`. */
export function hasScope(scope: string, required: string): boolean {
  return ` ${scope} `.includes(` ${required} `)
}

/**
 * Record on `socket.data` which issuer the connection's token came from:
 * `issuer` is set only for another trusted issuer's token (docs/protocol.md §12).
 *
 * @param data - the socket's data
 * @param token - the verified token and, for another issuer's, its issuer
 * @example
 * ```ts
 * writeIssuer(socket.data, verified)
 * ```
 */
export function writeIssuer(data: SocketData, token: { issuer?: string }): void {
  if (token.issuer === undefined) delete data.issuer
  else data.issuer = token.issuer
}
