import type { Logger } from '../../log.ts'
import { WEBHOOK_READ_BATCH_MS, WEBHOOK_READ_MAX_EVENTS } from '../../constants.ts'
import type { LifecycleMetrics } from '../metrics.ts'
import type { LifecycleEvent } from '../types.ts'
import type { WebhookEndpoint } from './endpoints.ts'
import type { PostOutcome, WebhookPoster } from './post.ts'
import { retryDelayMs, withinRetryWindow, type RetrySchedule } from './schedule.ts'
import type { DeliverySigner } from './sign.ts'
import type { DeliverySource } from './source.ts'

/** What one endpoint's queue is given by the deliverer. */
export interface EndpointQueueOptions {
  endpoint: WebhookEndpoint
  source: DeliverySource
  poster: WebhookPoster
  sign: DeliverySigner
  /** The event's JSON body (serialized once for every endpoint). */
  bodyOf: (event: LifecycleEvent) => string
  metrics: LifecycleMetrics
  logger: Logger
  now: () => number
  queueMax: number
  concurrency: number
  claimEveryMs: number
  schedule: RetrySchedule | undefined
  random: (() => number) | undefined
  /** Aborted when the deliverer closes. */
  closing: AbortSignal
}

interface Held {
  event: LifecycleEvent
  attempt: number
  dueAt: number
  sending: boolean
}

/** One endpoint's queue on this node (see {@link createDeliverer}). */
export interface EndpointQueue {
  id: string
  held: Map<string, Held>
  source: DeliverySource
  /** Claim, read (when the source does not block), and send what is due. */
  tick(): Promise<void>
  /** Stop: wait for the round and the read in progress, flush the acknowledgements, close the source. */
  close(): Promise<void>
}

/**
 * One endpoint's bounded queue: events read (by a blocking read loop of
 * their own when the source blocks, else on the deliverer's timer), sent
 * with at most `concurrency` in flight, retried on the deliverer's one
 * timer when due, and settled in batches (one `XACK` for every event that
 * settled in the same turn of the event loop).
 *
 * @param o - {@link EndpointQueueOptions}
 */
export function endpointQueue(o: EndpointQueueOptions): EndpointQueue {
  const { endpoint, source, metrics, logger, now, queueMax, concurrency, closing } = o
  const held = new Map<string, Held>()
  const label = { endpoint: endpoint.id }
  const wanted = (e: LifecycleEvent) => !endpoint.types || endpoint.types.includes(e.type)
  const counters = new Map<string, { inc(): void }>()
  const count = (outcome: string) => {
    let counter = counters.get(outcome)
    if (!counter)
      counters.set(outcome, (counter = metrics.deliveries.labels({ ...label, outcome })))
    counter.inc()
  }
  let sending = 0
  let full = false
  let disabled = false
  let lastClaim = -Infinity
  let running: Promise<void> | undefined
  let reading: Promise<void> | undefined
  /** Wakes the read loop waiting for room in the queue. */
  let roomFreed: (() => void) | undefined
  const acks: string[] = []
  /** The read loop's pause, which close() cuts short. */
  let pausing: { timer: NodeJS.Timeout; resume: () => void } | undefined
  const pause = (ms: number) =>
    new Promise<void>((resume) => {
      pausing = { timer: setTimeout(resume, ms), resume }
    }).finally(() => (pausing = undefined))

  const flushAcks = async () => {
    if (acks.length === 0) return
    await source
      .ack(acks.splice(0))
      .catch((err: Error) => logger('warn', 'webhook ack failed', { ...label, error: err.message }))
  }
  const ack = (offset: string) => {
    // One XACK for every event settled in this turn of the event loop.
    if (acks.push(offset) === 1) setImmediate(() => void flushAcks())
  }
  const take = (events: LifecycleEvent[]) => {
    const t = now()
    for (const event of events) {
      if (held.has(event.offset)) continue
      if (wanted(event)) held.set(event.offset, { event, attempt: 0, dueAt: t, sending: false })
      else ack(event.offset)
    }
    if (held.size >= queueMax && !full) {
      metrics.queueFull.inc(label)
      logger('warn', 'webhook queue full: reading paused until deliveries settle', {
        ...{ ...label, held: held.size },
      })
    }
    full = held.size >= queueMax
  }
  const settle = (h: Held) => {
    held.delete(h.event.offset)
    ack(h.event.offset)
    roomFreed?.()
  }
  const disable = () => {
    disabled = true
    held.clear()
    roomFreed?.()
  }
  /** Start what is due, up to the concurrency. */
  const pump = () => {
    if (disabled || closing.aborted) return
    const t = now()
    for (const h of held.values()) {
      if (sending >= concurrency) break
      if (!h.sending && h.dueAt <= t) void deliver(h)
    }
  }
  const post = (h: Held): Promise<PostOutcome> => {
    const timestamp = Math.floor(now() / 1000)
    const body = o.bodyOf(h.event)
    return o.poster.post(
      {
        'content-type': 'application/json',
        'webhook-id': h.event.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': o.sign(h.event.id, timestamp, body),
      },
      body,
    )
  }
  const deliver = async (h: Held) => {
    h.sending = true
    sending++
    const answer = await post(h)
    h.sending = false
    sending--
    // Closing: the event stays held in the source, for another node or this one's restart.
    if (closing.aborted || disabled) return
    const outcome =
      typeof answer !== 'number'
        ? answer
        : answer >= 200 && answer < 300
          ? 'ok'
          : answer === 410
            ? 'gone'
            : 'http_error'
    count(outcome)
    if (outcome === 'ok') {
      settle(h)
    } else if (outcome === 'gone') {
      disable()
      logger('warn', 'webhook endpoint answered 410: disabled', label)
      source.disable().catch(() => undefined)
      return
    } else {
      h.attempt++
      if (!withinRetryWindow(h.event.ts, now(), o.schedule)) {
        count('expired')
        logger('warn', 'webhook delivery dropped after the retry window', {
          ...{ ...label, event: h.event.id, attempts: h.attempt },
        })
        settle(h)
      } else {
        h.dueAt = now() + retryDelayMs(h.attempt, o.schedule, o.random)
      }
    }
    pump()
  }
  const round = async () => {
    if (disabled) return
    if (now() - lastClaim >= o.claimEveryMs) {
      lastClaim = now()
      if (await source.disabled()) return disable()
      if (held.size > 0) await source.keep([...held.keys()])
      if (held.size < queueMax) take(await source.claim(queueMax - held.size))
    }
    if (!source.blocking && held.size < queueMax) {
      take(await source.read(Math.min(WEBHOOK_READ_MAX_EVENTS, queueMax - held.size)))
    }
    pump()
  }
  const readLoop = async () => {
    let lastError = ''
    // An endpoint another node disabled is never read from here.
    if (await source.disabled().catch(() => false)) disable()
    while (!closing.aborted && !disabled) {
      if (held.size >= queueMax) {
        await new Promise<void>((resolve) => (roomFreed = resolve))
        roomFreed = undefined
        continue
      }
      try {
        const events = await source.read(Math.min(WEBHOOK_READ_MAX_EVENTS, queueMax - held.size))
        lastError = ''
        take(events)
        pump()
        // Let the next events gather: under load, each read takes a batch.
        if (events.length > 0) await pause(WEBHOOK_READ_BATCH_MS)
      } catch (err) {
        if (closing.aborted) break
        const message = (err as Error).message
        if (message !== lastError)
          logger('warn', 'webhook read failed', { ...label, error: message })
        lastError = message
        await pause(o.claimEveryMs)
      }
    }
  }
  if (source.blocking) {
    reading = readLoop()
    closing.addEventListener(
      'abort',
      () => {
        roomFreed?.()
        if (pausing) {
          clearTimeout(pausing.timer)
          pausing.resume()
        }
      },
      { once: true },
    )
  }

  return {
    id: endpoint.id,
    held,
    source,
    tick() {
      running ??= round()
        .catch((err: Error) =>
          logger('warn', 'webhook round failed', { ...label, error: err.message }),
        )
        .finally(() => (running = undefined))
      return running
    },
    async close() {
      source.close()
      await Promise.all([running, reading])
      await flushAcks()
      await o.poster.close()
    },
  }
}
