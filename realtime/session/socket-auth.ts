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
  /** The token's issuer: the edge's, or another trusted issuer's (docs/protocol.md §12). */
  iss: string
}

/** What the server keeps on `socket.data`. */
export interface SocketData {
  auth: SocketAuth
  /** `iat` of the connection's token, for `user` revocations. */
  iat: number
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
    iss: claims.iss,
  }
}

/** Whether a space-separated scope string holds `required`. */
export function hasScope(scope: string, required: string): boolean {
  return ` ${scope} `.includes(` ${required} `)
}
