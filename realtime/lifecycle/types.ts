import type { LifecycleEventType } from '../../shared/constants.ts'
import type { LifecycleEvent } from '../../shared/webhooks/event.ts'
import type { Revocation } from '../revocations/apply.ts'

export type { LifecycleEvent, LifecycleEventType }

/** A presence transition: the type and the sub (`user.*`) or room (`room.*`). */
export type PresenceTransitionType = Exclude<LifecycleEventType, 'session.revoked'>

/** Told of a presence transition decided by this node's memory store. */
export type OnTransition = (type: PresenceTransitionType, value: string) => void

/** A page of the log (docs/protocol.md §16): `{ events, next, gap }`. */
export interface EventPage {
  events: LifecycleEvent[]
  /** The offset to pass next: the last event's, or `after` itself on an empty page. */
  next: string
  /** Retention dropped events after `after` (or `after` is no offset of this log): the page starts at the oldest. */
  gap: boolean
}

/**
 * The one ordered lifecycle log (docs/protocol.md §16): a Redis Stream when
 * clustered, bounded memory alone. Presence transitions reach it from the
 * store that decides them; revocations from every node that applies them,
 * recorded once per event.
 */
export interface EventLog {
  /** Record a presence transition (the memory log; the Redis log's are written by presence's scripts). */
  transition: OnTransition
  /** Record a §6 event applied, once per event however many nodes apply it. */
  revoked(event: Revocation): Promise<void>
  /**
   * Up to `limit` events after `after` (absent or `"0"`: from the oldest).
   * @throws AppError `envelope_invalid` for an offset of the wrong form, `unavailable` (Redis away)
   */
  read(after: string | undefined, limit: number): Promise<EventPage>
  /** Events recorded, by type (the cluster's count when clustered). */
  counts(): Promise<Partial<Record<LifecycleEventType, number>>>
  close(): void
}
