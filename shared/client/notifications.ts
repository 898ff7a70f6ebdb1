import { createEnvelope } from '../envelope.ts'
import { SYNC_FROM_START } from '../constants.ts'
import type { PublishedEvent } from '../events.ts'

/** A server-published event as delivered (docs/protocol.md §8): the one argument of the event. */
export type Notification<T = unknown> = PublishedEvent<T>

/** The ack data of `rt:sync` (docs/protocol.md §9). */
export interface SyncOutcome {
  delivered: number
  last: string | null
  /** Entries were lost to retention: refetch from the application. */
  gap: boolean
}

/** Default number of notifications (`from`, `id`) remembered to drop repeats. */
export const NOTIFICATION_SEEN_IDS = 1000

/**
 * The client side of server-published events: drops repeats by the pair
 * (`from`, `id`) (an entry can arrive both live and through `rt:sync`; ids
 * are unique per publishing client only, so two services' ids never
 * silence each other), and remembers the newest `offset` so each
 * (re)connect syncs from there. It holds at most `maxSeen` pairs, oldest
 * forgotten first.
 */
export class NotificationTracker {
  private readonly seen = new Set<string>()
  private readonly maxSeen: number
  private offset: string | null

  /**
   * @param options - `since`: an offset stored from an earlier run (default none); `maxSeen` (default 1000)
   */
  constructor(options: { since?: string | null; maxSeen?: number } = {}) {
    this.offset = options.since ?? null
    this.maxSeen = options.maxSeen ?? NOTIFICATION_SEEN_IDS
    if (!(this.maxSeen >= 1)) throw new TypeError('NotificationTracker: maxSeen >= 1 required')
  }

  /** The newest offset seen (to store for the next run), or null. */
  get since(): string | null {
    return this.offset
  }

  /** What `rt:sync` asks from: the newest offset seen, else the start of the stream (a device that never synced). */
  get syncFrom(): string {
    return this.offset ?? SYNC_FROM_START
  }

  /**
   * Take a delivery: the notification when it is new and well-formed, else
   * undefined (a repeat, or not a published event's argument).
   */
  accept(payload: unknown): Notification | undefined {
    if (!isNotification(payload)) return undefined
    // An id never holds a space (docs/protocol.md §5), so the key is unambiguous.
    const key = `${payload.id} ${payload.from}`
    if (this.seen.has(key)) return undefined
    this.seen.add(key)
    if (this.seen.size > this.maxSeen) this.seen.delete(this.seen.values().next().value!)
    if (payload.offset !== undefined) this.offset = payload.offset
    return payload
  }

  /** After a sync's ack: with no offset yet, start from the stream's `last`. */
  synced(outcome: SyncOutcome): void {
    if (this.offset === null || outcome.gap) this.offset = outcome.last
  }
}

/** Whether `value` is a published event's argument `{ id, from, ts, data, offset? }`. */
export function isNotification(value: unknown): value is Notification {
  if (typeof value !== 'object' || value === null || !('data' in value)) return false
  const { id, from, ts, offset } = value as Record<string, unknown>
  return (
    typeof id === 'string' &&
    typeof from === 'string' &&
    typeof ts === 'number' &&
    (offset === undefined || typeof offset === 'string')
  )
}

/**
 * Send `rt:sync` from the tracker's offset, or from `"0"` when it has none
 * (docs/protocol.md §9: a first login sees what was published before it); the
 * entries arrive as their events before the ack, through the same
 * listeners as live ones, which drop the repeats.
 *
 * @param emit - the socket's `emit`
 * @param tracker - the client's tracker
 * @param id - the envelope id
 * @param onOutcome - called with the ack's data (check `gap`)
 */
export function sendSync(
  emit: (event: 'rt:sync', envelope: object, ack: (reply: unknown) => void) => void,
  tracker: NotificationTracker,
  id: string,
  onOutcome?: (outcome: SyncOutcome) => void,
): void {
  emit('rt:sync', createEnvelope(id, { since: tracker.syncFrom }), (reply) => {
    const data =
      (reply as { ok?: unknown; data?: unknown } | null)?.ok === true
        ? (reply as { data: unknown }).data
        : undefined
    if (!isSyncOutcome(data)) return
    tracker.synced(data)
    onOutcome?.(data)
  })
}

function isSyncOutcome(value: unknown): value is SyncOutcome {
  if (typeof value !== 'object' || value === null) return false
  const { delivered, last, gap } = value as Record<string, unknown>
  return (
    typeof delivered === 'number' &&
    typeof gap === 'boolean' &&
    (last === null || typeof last === 'string')
  )
}

/**
 * The handlers of server-published events on one socket: one socket
 * listener per event, and each notification handed to that event's
 * handlers once (the tracker drops repeats).
 */
export class NotificationHandlers {
  private readonly byEvent = new Map<string, Set<(n: Notification<any>) => void>>()
  private readonly socket: { on(event: string, listener: (payload: unknown) => void): unknown }
  private readonly tracker: NotificationTracker

  constructor(socket: NotificationHandlers['socket'], tracker: NotificationTracker) {
    this.socket = socket
    this.tracker = tracker
  }

  /** Add a handler of `event`; returns the function that removes it. */
  add<T>(event: string, handler: (notification: Notification<T>) => void): () => void {
    let handlers = this.byEvent.get(event)
    if (!handlers) {
      const set = (handlers = new Set())
      this.byEvent.set(event, set)
      this.socket.on(event, (payload) => {
        const notification = this.tracker.accept(payload)
        if (notification) for (const h of [...set]) h(notification)
      })
    }
    const h = handler as (n: Notification<any>) => void
    handlers.add(h)
    return () => void handlers.delete(h)
  }

  /** How many events have handlers (a client with none and no `notifications` option skips `rt:sync`). */
  get size(): number {
    return this.byEvent.size
  }
}
