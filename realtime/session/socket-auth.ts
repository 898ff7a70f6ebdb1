import type { AccessClaims } from '../../shared/claims.ts'
import type { VerifiedToken } from '../auth/token-verifier.ts'

/** The verified identity of a connection (PROTOCOL §5): `socket.data.auth`. */
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
 * fields of {@link SocketAuth} and `iat` are kept, not the claims object.
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
}

/** Whether a space-separated scope string holds `required`. */
export function hasScope(scope: string, required: string): boolean {
  return ` ${scope} `.includes(` ${required} `)
}
