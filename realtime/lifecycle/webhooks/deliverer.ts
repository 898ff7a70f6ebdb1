import type { Logger } from '../../log.ts'
import {
  WEBHOOK_BODY_CACHE_ENTRIES,
  WEBHOOK_CLAIM_INTERVAL_MS,
  WEBHOOK_CONCURRENCY,
  WEBHOOK_POLL_MS,
  WEBHOOK_QUEUE_MAX_EVENTS,
  WEBHOOK_TIMEOUT_MS,
} from '../../constants.ts'
import type { LifecycleMetrics } from '../metrics.ts'
import type { LifecycleEvent } from '../types.ts'
import type { WebhookEndpoint } from './endpoints.ts'
import { endpointQueue } from './endpoint-queue.ts'
import { fetchPoster, poolPoster } from './post.ts'
import type { RetrySchedule } from './schedule.ts'
import { deliverySigner } from './sign.ts'
import type { DeliverySource } from './source.ts'

/** Options of {@link createDeliverer}. */
export interface DelivererOptions {
  endpoints: readonly WebhookEndpoint[]
  /** Each endpoint's source of events. */
  source: (endpoint: WebhookEndpoint) => DeliverySource
  metrics: LifecycleMetrics
  logger: Logger
  /** ms clock of the retry schedule. @default Date.now */
  now?: () => number
  /** Send deliveries with this `fetch` instead of an undici pool per endpoint. */
  fetch?: typeof fetch
  /** @default WEBHOOK_TIMEOUT_MS (10 s) */
  timeoutMs?: number
  /** Events held per endpoint and node. @default WEBHOOK_QUEUE_MAX_EVENTS */
  queueMax?: number
  /** @default WEBHOOK_CONCURRENCY */
  concurrency?: number
  /** Period of the timer that calls `tick`; 0: no timer (tests drive `tick`). @default WEBHOOK_POLL_MS */
  pollMs?: number
  /** @default WEBHOOK_CLAIM_INTERVAL_MS */
  claimIntervalMs?: number
  schedule?: RetrySchedule
  /** Jitter source in [0, 1). @default Math.random */
  random?: () => number
}

/** This node's webhook deliveries. */
export interface Deliverer {
  /** Read, claim and send what is due, for every endpoint (the timer calls it; tests may too). */
  tick(): Promise<void>
  /** Events held per endpoint id. */
  queued(): Map<string, number>
  /** Age in seconds of the oldest undelivered event per endpoint id (0: none). */
  oldest(): Promise<Map<string, number>>
  /** Stop; in-flight requests are aborted and their events left for another node (or a restart). */
  close(): Promise<void>
}

/**
 * Deliver lifecycle events to the `WEBHOOKS` endpoints (docs/protocol.md
 * §16), signed the Standard Webhooks way: at least once, retried with
 * doubling delays and jitter (capped at 1 h) for the retry window, a 2xx
 * settles, a 410 disables the endpoint. Each endpoint has its own bounded
 * queue and concurrency, so a slow or dead endpoint holds only itself; its
 * queue filling is counted and logged, and what it cannot hold stays in the
 * log. Nothing here runs on a socket's path, and a node can leave it to
 * another (`REALTIME_WEBHOOKS_DELIVER=false`). Per delivery the node signs
 * with an HMAC key imported once per secret, posts over a kept-alive
 * connection of the endpoint's pool, and acknowledges in batches; clustered,
 * each endpoint reads its group with a blocking read of its own.
 *
 * @param options - {@link DelivererOptions}
 * @example
 * ```ts
 * const deliverer = createDeliverer({ endpoints, source: (e) => memorySource(log, e), metrics, logger })
 * ```
 */
export function createDeliverer(options: DelivererOptions): Deliverer {
  const now = options.now ?? Date.now
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS
  const concurrency = options.concurrency ?? WEBHOOK_CONCURRENCY
  const closing = new AbortController()
  const bodyOf =
    options.endpoints.length > 1 ? cachedBodies() : (e: LifecycleEvent) => JSON.stringify(e)
  const queues = options.endpoints.map((endpoint) =>
    endpointQueue({
      endpoint,
      source: options.source(endpoint),
      poster: options.fetch
        ? fetchPoster(options.fetch, endpoint.url, { timeoutMs, signal: closing.signal })
        : poolPoster(endpoint.url, concurrency, { timeoutMs, signal: closing.signal }),
      sign: deliverySigner(endpoint.secret),
      bodyOf,
      metrics: options.metrics,
      logger: options.logger,
      now,
      queueMax: options.queueMax ?? WEBHOOK_QUEUE_MAX_EVENTS,
      concurrency,
      claimEveryMs: options.claimIntervalMs ?? WEBHOOK_CLAIM_INTERVAL_MS,
      schedule: options.schedule,
      random: options.random,
      closing: closing.signal,
    }),
  )

  const pollMs = options.pollMs ?? WEBHOOK_POLL_MS
  const tick = async () => {
    if (closing.signal.aborted) return
    await Promise.all(queues.map((q) => q.tick()))
  }
  // One timer for every endpoint's claims and due retries, not one per event.
  const timer = pollMs > 0 ? setInterval(() => void tick(), pollMs) : undefined
  timer?.unref()

  return {
    tick,
    queued: () => new Map(queues.map((q) => [q.id, q.held.size])),
    async oldest() {
      const t = now()
      const ages = await Promise.all(
        queues.map(async (q) => {
          const at = await q.source.oldestUndelivered()
          return [q.id, at === undefined ? 0 : Math.max(0, (t - at) / 1000)] as const
        }),
      )
      return new Map(ages)
    },
    async close() {
      clearInterval(timer)
      closing.abort()
      await Promise.all(queues.map((q) => q.close()))
    },
  }
}

/** Each event's body serialized once for every endpoint: the newest `WEBHOOK_BODY_CACHE_ENTRIES`. */
function cachedBodies(): (event: LifecycleEvent) => string {
  const bodies = new Map<string, string>()
  return (event) => {
    let body = bodies.get(event.id)
    if (body === undefined) {
      bodies.set(event.id, (body = JSON.stringify(event)))
      if (bodies.size > WEBHOOK_BODY_CACHE_ENTRIES) bodies.delete(bodies.keys().next().value!)
    }
    return body
  }
}
