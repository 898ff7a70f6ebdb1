import { Counter, type Registry } from 'prom-client'
import { sizeGauge } from '../metrics.ts'

/** The server API's and the user streams' metrics. */
export interface ApiMetrics {
  /** Publishes by outcome: `ok` or the refusal code. */
  publishes: Counter<'outcome'>
  /** Publishes that repeated an earlier id: answered, not delivered again. */
  repeats: Counter
  /** Disconnect requests by outcome: `ok` or the refusal code. */
  disconnects: Counter<'outcome'>
  /** Presence reads (docs/protocol.md §8) by outcome. */
  presenceReads: Counter<'outcome'>
  /** Event-log pulls (docs/protocol.md §16) by outcome. */
  eventReads: Counter<'outcome'>
  /** Requests refused as over a client's rate. */
  rateLimited: Counter
}

/** What the held-state gauges read when scraped. */
export interface HeldState {
  /** Entries in the memory user streams (single node), else undefined. */
  streamEntries?: () => number
  /** Users' streams in memory (single node), else undefined. */
  streams?: () => number
  /** Publish ids remembered in memory (single node), else undefined. */
  idempotencyKeys?: () => number
  /** Service clients whose rate state is held. */
  rateBuckets: () => number
}

/**
 * Register the server API's metrics on the service's registry: publishes,
 * disconnects and rate-limited requests, and gauges of everything a service
 * client makes a node hold.
 *
 * @param registry - the service's Prometheus registry
 * @param held - readers for the gauges
 */
export function createApiMetrics(registry: Registry, held: HeldState): ApiMetrics {
  const gauge = (name: string, help: string, read: (() => number) | undefined) => {
    if (read) sizeGauge(registry, name, help, read)
  }
  gauge('realtime_user_stream_entries', 'Entries held in memory user streams', held.streamEntries)
  gauge('realtime_user_streams', 'Users whose stream is held in memory', held.streams)
  gauge('realtime_api_idempotency_keys', 'Publish ids remembered in memory', held.idempotencyKeys)
  gauge('realtime_api_rate_buckets', 'Service clients whose rate state is held', held.rateBuckets)
  return {
    publishes: new Counter({
      name: 'realtime_api_publishes_total',
      help: 'Server API publishes by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    repeats: new Counter({
      name: 'realtime_api_publish_repeats_total',
      help: 'Publishes that repeated an id of the idempotency window: answered as before, not delivered',
      registers: [registry],
    }),
    eventReads: new Counter({
      name: 'realtime_api_event_reads_total',
      help: 'Server API event-log pulls by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    presenceReads: new Counter({
      name: 'realtime_api_presence_reads_total',
      help: 'Server API presence reads by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    disconnects: new Counter({
      name: 'realtime_api_disconnects_total',
      help: 'Server API disconnect requests by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'realtime_api_rate_limited_total',
      help: 'Server API requests refused over a service client rate',
      registers: [registry],
    }),
  }
}
