import type { LifecycleEventType } from '../../shared/constants.ts'
import type { LifecycleEvent } from './types.ts'

/** An event as a log stores it: the type, its sub, room or revocation kind, and a revocation's id. */
export interface StoredEvent {
  type: LifecycleEventType
  value: string
  extra?: string
}

/**
 * The wire form of a stored event (docs/protocol.md §16): `data` is `{ sub }`
 * for `user.*`, `{ room }` for `room.*`, `{ kind, id }` for `session.revoked`.
 */
export function toEvent(
  offset: string,
  id: string,
  ts: number,
  stored: StoredEvent,
): LifecycleEvent {
  const { type, value } = stored
  switch (type) {
    case 'user.online':
    case 'user.offline':
      return { id, type, ts, offset, data: { sub: value } }
    case 'room.occupied':
    case 'room.vacated':
      return { id, type, ts, offset, data: { room: value } }
    case 'session.revoked':
      return { id, type, ts, offset, data: { kind: value, id: stored.extra ?? '' } }
    default:
      return unknownType(type)
  }
}

function unknownType(type: never): never {
  throw new TypeError(`unknown lifecycle event type ${String(type)}`)
}
