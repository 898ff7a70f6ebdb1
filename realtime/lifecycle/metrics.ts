import { Counter, Gauge, type Registry } from 'prom-client'
import { LIFECYCLE_EVENT_TYPES, type LifecycleEventType } from '../../shared/constants.ts'

/** The lifecycle metrics (docs/protocol.md §16). */
export interface LifecycleMetrics {
  /** Deliveries by endpoint id and outcome: ok, http_error, timeout, network, gone, expired. */
  deliveries: Counter<'endpoint' | 'outcome'>
  /** Times an endpoint's queue on this node filled (it stops reading until a delivery settles). */
  queueFull: Counter<'endpoint'>
}

/**
 * Register the lifecycle metrics: `realtime_events_recorded{type}` (the
 * log's count: the cluster's when clustered, read at scrape),
 * `realtime_webhook_deliveries_total{endpoint,outcome}`,
 * `realtime_webhook_queue_full_total{endpoint}`,
 * `realtime_webhook_queued{endpoint}` (held by this node) and
 * `realtime_webhook_oldest_undelivered_seconds{endpoint}`.
 *
 * @param registry - the server's registry
 * @param read - what is read at scrape time
 * @example
 * ```ts
 * const metrics = createLifecycleMetrics(registry, { counts: log.counts, queued, oldest })
 * ```
 */
export function createLifecycleMetrics(
  registry: Registry,
  read: {
    counts: () => Promise<Partial<Record<LifecycleEventType, number>>>
    /** Events held per endpoint id. */
    queued: () => Map<string, number>
    /** Age in seconds of the oldest undelivered event per endpoint id. */
    oldest: () => Promise<Map<string, number>>
  },
): LifecycleMetrics {
  new Gauge({
    name: 'realtime_events_recorded',
    help: 'Lifecycle events recorded in the log, by type (the whole cluster when clustered)',
    labelNames: ['type'],
    registers: [registry],
    async collect() {
      const counts = await read.counts().catch(() => undefined)
      if (!counts) return
      for (const type of LIFECYCLE_EVENT_TYPES) this.set({ type }, counts[type] ?? 0)
    },
  })
  new Gauge({
    name: 'realtime_webhook_queued',
    help: 'Events this node holds for an endpoint (read, not yet delivered)',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      for (const [endpoint, n] of read.queued()) this.set({ endpoint }, n)
    },
  })
  new Gauge({
    name: 'realtime_webhook_oldest_undelivered_seconds',
    help: 'Age of the oldest event not yet delivered to an endpoint (0: none)',
    labelNames: ['endpoint'],
    registers: [registry],
    async collect() {
      const ages = await read.oldest().catch(() => new Map<string, number>())
      for (const [endpoint, age] of ages) this.set({ endpoint }, age)
    },
  })
  return {
    deliveries: new Counter({
      name: 'realtime_webhook_deliveries_total',
      help: 'Webhook delivery attempts by endpoint and outcome',
      labelNames: ['endpoint', 'outcome'],
      registers: [registry],
    }),
    queueFull: new Counter({
      name: 'realtime_webhook_queue_full_total',
      help: 'Times an endpoint queue on this node filled',
      labelNames: ['endpoint'],
      registers: [registry],
    }),
  }
}
