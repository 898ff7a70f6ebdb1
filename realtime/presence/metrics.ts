import { Counter, type Registry } from 'prom-client'
import { sizeGauge } from '../metrics.ts'

/** Presence's Prometheus metrics (docs/presence.md, "Limits"). */
export interface PresenceMetrics {
  /** Joins not listed, by reason: `rooms_full` (this node's room cap) or `room_full` (the room's member cap). */
  untracked: Counter<'reason'>
  /** `rt:presence` messages emitted by this node (one room each). */
  messages: Counter
  /** Changes announced by this node, by kind: `joined` or `left`. */
  changes: Counter<'kind'>
  /** Members of dead nodes this node swept. */
  swept: Counter
}

/**
 * Register presence's metrics on `registry`; the gauges read `sizes` when scraped.
 *
 * @param registry - the server's registry
 * @param sizes - rooms and entries on this node, and changes pending in batches
 */
export function createPresenceMetrics(
  registry: Registry,
  sizes: { rooms(): number; entries(): number; pending(): number },
): PresenceMetrics {
  const gauge = (name: string, help: string, read: () => number) =>
    sizeGauge(registry, name, help, read)
  gauge('realtime_presence_rooms', 'Rooms with presence on this node', sizes.rooms)
  gauge('realtime_presence_entries', "Users counted in rooms' presence on this node", sizes.entries)
  gauge(
    'realtime_presence_pending_changes',
    'Presence changes waiting for their batch (single node)',
    sizes.pending,
  )
  return {
    untracked: new Counter({
      name: 'realtime_presence_untracked_total',
      help: 'Joins not listed in presence, by reason: rooms_full, room_full',
      labelNames: ['reason'],
      registers: [registry],
    }),
    messages: new Counter({
      name: 'realtime_presence_messages_total',
      help: 'rt:presence change messages emitted by this node',
      registers: [registry],
    }),
    changes: new Counter({
      name: 'realtime_presence_changes_total',
      help: 'Presence changes announced by this node, by kind: joined, left',
      labelNames: ['kind'],
      registers: [registry],
    }),
    swept: new Counter({
      name: 'realtime_presence_swept_total',
      help: 'Members of dead nodes removed by this node',
      registers: [registry],
    }),
  }
}
