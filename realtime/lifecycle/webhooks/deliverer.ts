import type { Logger } from '../../log.ts'
import {
  WEBHOOK_CLAIM_INTERVAL_MS,
  WEBHOOK_CONCURRENCY,
  WEBHOOK_POLL_MS,
  WEBHOOK_QUEUE_MAX_EVENTS,
  WEBHOOK_TIMEOUT_MS,
} from '../../constants.ts'
import { importWebhookKey, secretKey, signWebhook } from '../../../shared/webhooks/signature.ts'
import type { LifecycleMetrics } from '../metrics.ts'
import type { LifecycleEvent } from '../types.ts'
import type { WebhookEndpoint } from './endpoints.ts'
import { retryDelayMs, withinRetryWindow, type RetrySchedule } from './schedule.ts'
import { postWebhook, postWithFetch } from './post.ts'
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
  /** Send deliveries with this `fetch` instead of node:http(s). */
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

interface Held {
  event: LifecycleEvent
  body: string
  attempt: number
  dueAt: number
  sending: boolean
}

/**
 * Deliver lifecycle events to the `WEBHOOKS` endpoints (docs/protocol.md
 * §16), signed the Standard Webhooks way: at least once, retried with
 * doubling delays and jitter (capped at 1 h) for the retry window, a 2xx
 * settles, a 410 disables the endpoint. Each endpoint has its own bounded
 * queue and concurrency, so a slow or dead endpoint holds only itself; its
 * queue filling is counted and logged, and what it cannot hold stays in the
 * log. Nothing here runs on a socket's path.
 *
 * @param options - {@link DelivererOptions}
 * @example
 * ```ts
 * const deliverer = createDeliverer({ endpoints, source: (e) => memorySource(log, e), metrics, logger })
 * ```
 */
export function createDeliverer(options: DelivererOptions): Deliverer {
  const now = options.now ?? Date.now
  const send = options.fetch ? postWithFetch(options.fetch) : postWebhook
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS
  const queueMax = options.queueMax ?? WEBHOOK_QUEUE_MAX_EVENTS
  const concurrency = options.concurrency ?? WEBHOOK_CONCURRENCY
  const claimEvery = options.claimIntervalMs ?? WEBHOOK_CLAIM_INTERVAL_MS
  const closing = new AbortController()
  /** Requests in flight, aborted by close(). */
  const inFlight = new Set<AbortController>()
  const { metrics, logger } = options
  const queues = options.endpoints.map((endpoint) => endpointQueue(endpoint))

  function endpointQueue(endpoint: WebhookEndpoint) {
    const source = options.source(endpoint)
    const held = new Map<string, Held>()
    const key = importWebhookKey(secretKey(endpoint.secret))
    const label = { endpoint: endpoint.id }
    const wanted = (e: LifecycleEvent) => !endpoint.types || endpoint.types.includes(e.type)
    let sending = 0
    let full = false
    let disabled = false
    let lastClaim = -Infinity
    let running: Promise<void> | undefined

    const take = async (events: LifecycleEvent[]) => {
      for (const event of events) {
        if (held.has(event.offset)) continue
        if (!wanted(event)) {
          await source.ack(event.offset)
          continue
        }
        held.set(event.offset, {
          ...{ event, attempt: 0, dueAt: now(), sending: false },
          body: JSON.stringify(event),
        })
      }
    }
    const settle = (h: Held) => {
      held.delete(h.event.offset)
      source
        .ack(h.event.offset)
        .catch((err: Error) =>
          logger('warn', 'webhook ack failed', { ...label, error: err.message }),
        )
    }
    const deliver = async (h: Held) => {
      h.sending = true
      sending++
      const outcome = await post(h)
      h.sending = false
      sending--
      // Closing: the event stays held in the source, for another node or this one's restart.
      if (closing.signal.aborted) return
      metrics.deliveries.inc({ ...label, outcome })
      if (outcome === 'ok') return settle(h)
      if (outcome === 'gone') {
        disabled = true
        held.clear()
        logger('warn', 'webhook endpoint answered 410: disabled', label)
        return void source.disable().catch(() => undefined)
      }
      h.attempt++
      if (!withinRetryWindow(h.event.ts, now(), options.schedule)) {
        metrics.deliveries.inc({ ...label, outcome: 'expired' })
        logger('warn', 'webhook delivery dropped after the retry window', {
          ...{ ...label, event: h.event.id, attempts: h.attempt },
        })
        return settle(h)
      }
      h.dueAt = now() + retryDelayMs(h.attempt, options.schedule, options.random)
    }
    const post = async (h: Held): Promise<string> => {
      const timestamp = Math.floor(now() / 1000)
      // One controller per request, aborted by its timer or by close(): cheaper than
      // AbortSignal.any over a signal that lives as long as the node.
      const abort = new AbortController()
      let timedOut = false
      const timer = setTimeout(() => {
        timedOut = true
        abort.abort()
      }, timeoutMs)
      inFlight.add(abort)
      try {
        const signature = await signWebhook(await key, h.event.id, timestamp, h.body)
        const status = await send({
          url: endpoint.url,
          headers: {
            'content-type': 'application/json',
            'webhook-id': h.event.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': signature,
          },
          body: h.body,
          signal: abort.signal,
        })
        if (status >= 200 && status < 300) return 'ok'
        return status === 410 ? 'gone' : 'http_error'
      } catch {
        return timedOut ? 'timeout' : 'network'
      } finally {
        clearTimeout(timer)
        inFlight.delete(abort)
      }
    }
    const round = async () => {
      if (disabled) return
      if (now() - lastClaim >= claimEvery) {
        lastClaim = now()
        if (await source.disabled()) {
          disabled = true
          held.clear()
          return
        }
        if (held.size > 0) await source.keep([...held.keys()])
        if (held.size < queueMax) await take(await source.claim(queueMax - held.size))
      }
      if (held.size < queueMax) await take(await source.read(Math.min(100, queueMax - held.size)))
      if (held.size >= queueMax && !full) {
        metrics.queueFull.inc(label)
        logger('warn', 'webhook queue full: reading paused until deliveries settle', {
          ...{ ...label, held: held.size },
        })
      }
      full = held.size >= queueMax
      const t = now()
      for (const h of held.values()) {
        if (sending >= concurrency) break
        if (!h.sending && h.dueAt <= t) void deliver(h)
      }
    }
    return {
      id: endpoint.id,
      held,
      source,
      idle: () => running,
      tick() {
        running ??= round()
          .catch((err: Error) =>
            logger('warn', 'webhook round failed', { ...label, error: err.message }),
          )
          .finally(() => (running = undefined))
        return running
      },
    }
  }

  const pollMs = options.pollMs ?? WEBHOOK_POLL_MS
  const tick = async () => {
    if (closing.signal.aborted) return
    await Promise.all(queues.map((q) => q.tick()))
  }
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
      for (const request of inFlight) request.abort()
      await Promise.all(queues.map((q) => q.idle()))
    },
  }
}
