import { randomBytes } from 'node:crypto'
import { AppError } from '../../shared/errors.ts'
import type { LifecycleEventType } from '../../shared/constants.ts'
import { DEFAULT_EVENTS_RETENTION_SECONDS, EVENTS_MEMORY_MAX_ENTRIES } from '../constants.ts'
import type { Revocation } from '../revocations/apply.ts'
import { toEvent, type StoredEvent } from './event-shape.ts'
import type { EventLog, EventPage, LifecycleEvent } from './types.ts'

/** Options of {@link createMemoryLog}. */
export interface MemoryLogOptions {
  /** Age limit, seconds. @default DEFAULT_EVENTS_RETENTION_SECONDS (7 days) */
  retentionSeconds?: number
  /** Most events kept. @default EVENTS_MEMORY_MAX_ENTRIES */
  maxEntries?: number
  /** ms clock. @default Date.now */
  now?: () => number
  /** Told of each event recorded (the webhook deliverer and the metric). */
  onRecord?: (event: LifecycleEvent) => void
}

/**
 * The lifecycle log of a single node (no `REDIS_URL`), in bounded memory:
 * the newest `maxEntries` events of at most `retentionSeconds`. Offsets are
 * `<boot>.<seq>`: an offset from before a restart is no offset of this log,
 * so the reader is told `gap`, never handed the wrong events.
 *
 * @param options - {@link MemoryLogOptions}
 * @example
 * ```ts
 * const log = createMemoryLog({ onRecord: (e) => deliverer.wake() })
 * log.transition('user.online', 'u1')
 * ```
 */
export function createMemoryLog(options: MemoryLogOptions = {}): EventLog & {
  /** Events held now. */
  size(): number
  /** The newest event's offset (one that reads nothing yet when the log is empty). */
  tail(): string
} {
  const now = options.now ?? Date.now
  const retentionMs = (options.retentionSeconds ?? DEFAULT_EVENTS_RETENTION_SECONDS) * 1000
  const max = options.maxEntries ?? EVENTS_MEMORY_MAX_ENTRIES
  const boot = randomBytes(6).toString('hex')
  /**
   * Events in order; `entries[i]` has seq `first + i`. Kept as recorded, and given their wire
   * form (id, offset, data) only when read: up to `maxEntries` of them stay for days, and the
   * wire form's strings and objects are about three times the size.
   */
  let entries: MemoryEntry[] = []
  let head = 0
  let first = 1
  let seq = 0
  const counts: Partial<Record<LifecycleEventType, number>> = {}
  /** Revocations recorded, by key, until they no longer matter (ms). */
  const revoked = new Map<string, number>()

  const trim = () => {
    const cutoff = now() - retentionMs
    while (head < entries.length && (entries.length - head > max || entries[head]!.ts < cutoff)) {
      head++
      first++
    }
    // Compact once half the array is dropped: amortized O(1) per event.
    if (head > 1024 && head * 2 > entries.length) {
      entries = entries.slice(head)
      head = 0
    }
  }
  const wire = (entry: MemoryEntry): LifecycleEvent =>
    toEvent(`${boot}.${entry.seq}`, `evt_${boot}${entry.seq}`, entry.ts, entry.stored)
  const append = (stored: StoredEvent) => {
    const entry: MemoryEntry = { seq: ++seq, ts: now(), stored }
    entries.push(entry)
    counts[stored.type] = (counts[stored.type] ?? 0) + 1
    trim()
    if (options.onRecord) options.onRecord(wire(entry))
  }
  const held = () => entries.length - head

  return {
    transition: (type, value) => append({ type, value }),
    async revoked(event: Revocation) {
      const t = now()
      for (const [key, until] of revoked) {
        if (until > t) break
        revoked.delete(key)
      }
      const key = `${event.kind}:${event.id}:${event.at}`
      if (revoked.has(key)) return
      revoked.set(key, Math.max(event.until * 1000, t))
      append({ type: 'session.revoked', value: event.kind, extra: event.id })
    },
    async read(after, limit): Promise<EventPage> {
      trim()
      const page = (from: number, gap: boolean, empty: string): EventPage => {
        const start = head + Math.max(0, from - first)
        const events = entries.slice(start, start + limit).map(wire)
        return { events, next: events.at(-1)?.offset ?? empty, gap }
      }
      if (after === undefined) return page(first, false, '0')
      if (after === '0') return page(first, first > 1, '0')
      const match = /^([0-9a-f]{12})\.(\d{1,15})$/.exec(after)
      if (!match) throw new AppError('envelope_invalid', 'after: not an offset')
      const at = Number(match[2])
      // Another boot's offset, one past the end, or one whose successors were dropped.
      if (match[1] !== boot || at > seq || at < first - 1) return page(first, true, after)
      return page(at + 1, false, after)
    },
    async counts() {
      return { ...counts }
    },
    size: held,
    tail: () => `${boot}.${seq}`,
    close() {
      entries = []
      head = 0
      revoked.clear()
    },
  }
}

/** An event as this log keeps it: its sequence number, time (ms) and what happened. */
interface MemoryEntry {
  seq: number
  ts: number
  stored: StoredEvent
}
