import type { AccessClaims } from '../shared/claims.ts'

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
  /**
   * (v1.2) The RFC 7638 thumbprint of the key the connection's token is bound
   * to (`cnf.jkt`, proven at the handshake; docs/protocol.md §15). Absent for
   * a bearer connection. Every in-band token must be bound to this same key.
   */
  jkt?: string
  /** Rooms joined with a room grant (docs/protocol.md §11): kept when an in-band token's `rooms` claim would not cover them. */
  grantedRooms?: string[]
}

/**
 * What a revocation check reads of a connection's identity: `socket.data`, or
 * the identity a token is about to be given (the handshake checks before it writes).
 */
export type RevocableIdentity = {
  auth: Pick<SocketAuth, 'sub' | 'sid' | 'kid'>
  iat: number
  issuer?: string | undefined
}

/**
 * Whether a space-separated scope string holds `required`.
 *
 * @param scope - the token's `scope` claim
 * @param required - one scope
 * @example
 * ```ts
 * hasScope('chat:write presence', 'chat:write') // true
 * ```
 */
export function hasScope(scope: string, required: string): boolean {
  return ` ${scope} `.includes(` ${required} `)
}
