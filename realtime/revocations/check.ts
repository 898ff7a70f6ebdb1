import type { RevocationKind } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import type { RevocableIdentity } from '../identity.ts'
import type { Revocation } from '../types.ts'
import { unhandledKind } from './kinds.ts'
import type { RevocationSet } from './revocation-set.ts'

/**
 * The issuer rule, written once: the edge's revocation events cover the
 * edge's tokens only, never another trusted issuer's (docs/protocol.md §12);
 * expiry and the server API's disconnect end those connections.
 *
 * @param identity - a connection's identity (`socket.data`)
 * @example
 * ```ts
 * edgeIssued(socket.data) // false for another issuer's connection
 * ```
 */
export function edgeIssued(identity: Pick<RevocableIdentity, 'issuer'>): boolean {
  return identity.issuer === undefined
}

/**
 * The one revocation check (docs/protocol.md §6): which event in force
 * covers a connection's identity, if any. The handshake (through the
 * verifier, on the identity it is about to write), an in-band token and
 * every message (on `socket.data`) are checked here and nowhere else.
 *
 * @param revocations - the events in force
 * @param identity - `socket.data`, or the identity a verified token is about to be given
 * @param nowSeconds - Unix seconds
 * @example
 * ```ts
 * revokedBy(revocations, socket.data, Date.now() / 1000) // 'session' | 'key' | 'user' | undefined
 * ```
 */
export function revokedBy(
  revocations: RevocationSet,
  identity: RevocableIdentity,
  nowSeconds: number,
): RevocationKind | undefined {
  return edgeIssued(identity) ? revocations.check(identity, nowSeconds) : undefined
}

/**
 * {@link revokedBy} as a refusal.
 *
 * @param revocations - the events in force
 * @param identity - `socket.data`, or the identity a verified token is about to be given
 * @param nowSeconds - Unix seconds
 * @throws AppError `token_revoked` when an event in force covers the identity
 * @example
 * ```ts
 * assertNotRevoked(revocations, socket.data, now() / 1000)
 * ```
 */
export function assertNotRevoked(
  revocations: RevocationSet,
  identity: RevocableIdentity,
  nowSeconds: number,
): void {
  const kind = revokedBy(revocations, identity, nowSeconds)
  if (kind !== undefined) throw new AppError('token_revoked', `${kind} revoked`)
}

/**
 * Whether a new event covers an open connection: the same rule as
 * {@link revokedBy}, from the event's side (which sockets to disconnect).
 *
 * @param event - the event being applied
 * @param identity - a connection's `socket.data`
 * @example
 * ```ts
 * sockets.filter((s) => eventCovers(event, s.data))
 * ```
 */
export function eventCovers(
  event: Pick<Revocation, 'kind' | 'id' | 'at'>,
  identity: RevocableIdentity,
): boolean {
  if (!edgeIssued(identity)) return false
  const kind = event.kind
  switch (kind) {
    case 'session':
      return identity.auth.sid === event.id
    case 'key':
      return identity.auth.kid === event.id
    case 'user':
      return identity.auth.sub === event.id && identity.iat <= event.at
    case 'client':
      // A service client's tokens never open a socket (docs/protocol.md §8).
      return false
    default:
      return unhandledKind(kind)
  }
}
