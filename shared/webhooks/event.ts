import type { LifecycleEventType } from '../constants.ts'

/**
 * One lifecycle event (docs/protocol.md §16), as pulled from
 * `GET /api/v1/events` and as the body of a webhook delivery.
 */
export type LifecycleEvent = {
  /** Unique per event; the `webhook-id` of its deliveries. */
  id: string
  /** ms since the epoch. */
  ts: number
  /** Opaque: stored and sent back as `after`, never compared or parsed. */
  offset: string
} & (
  | { type: 'user.online' | 'user.offline'; data: { sub: string } }
  | { type: 'room.occupied' | 'room.vacated'; data: { room: string } }
  | { type: 'session.revoked'; data: { kind: string; id: string } }
)

export type { LifecycleEventType }
