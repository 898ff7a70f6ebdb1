/** How often a node pings Redis, ms (issue 14 item 7: a hung Redis must not go unnoticed). */
export const REDIS_PING_INTERVAL_MS = 1000

/** How long a ping may go unanswered before Redis counts as unavailable, ms. */
export const REDIS_PING_TIMEOUT_MS = 1000

/** Options of {@link RedisHealth}. */
export interface RedisHealthOptions {
  /** Sends PING; resolves when Redis answers. */
  ping: () => Promise<unknown>
  /** Whether the client holds a live connection (node-redis `isReady`). */
  connected: () => boolean
  /** Called each time Redis becomes available again after a ping. */
  onAvailable?: () => void
  /** Called when a ping goes unanswered past the timeout. */
  onUnavailable?: () => void
  /** @default {@link REDIS_PING_INTERVAL_MS} */
  intervalMs?: number
  /** @default {@link REDIS_PING_TIMEOUT_MS} */
  timeoutMs?: number
  /** ms clock. @default Date.now */
  now?: () => number
}

/**
 * A bounded liveness probe for Redis. A Redis stopped with SIGSTOP keeps its
 * TCP connection open, so the client still says "ready" while every command
 * waits forever; only an unanswered command shows it. One PING at a time
 * (a hung Redis never collects more than one from us): unanswered past the
 * timeout, Redis is unavailable until a PING is answered again.
 *
 * @example
 * ```ts
 * const health = new RedisHealth({ ping: () => client.ping(), connected: () => client.isReady })
 * health.start()
 * ```
 */
export class RedisHealth {
  private readonly o: Required<RedisHealthOptions>
  private sentAt: number | undefined
  private answered = true
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(options: RedisHealthOptions) {
    this.o = {
      onAvailable: () => {},
      onUnavailable: () => {},
      intervalMs: REDIS_PING_INTERVAL_MS,
      timeoutMs: REDIS_PING_TIMEOUT_MS,
      now: Date.now,
      ...options,
    }
  }

  /** Whether Redis is connected and answered its last ping in time. */
  available(): boolean {
    return this.o.connected() && this.answered && !this.overdue()
  }

  /** Probe every interval until {@link stop}. */
  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.o.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** One probe step: judge the ping in flight, or send one. */
  tick(): void {
    if (this.sentAt !== undefined) {
      if (this.overdue() && this.answered) {
        this.answered = false
        this.o.onUnavailable()
      }
      return
    }
    if (!this.o.connected()) return
    this.sentAt = this.o.now()
    this.o.ping().then(
      () => {
        this.sentAt = undefined
        const was = this.answered
        this.answered = true
        if (!was) this.o.onAvailable()
      },
      () => {
        // Connection lost mid-ping: `connected()` reports it; try again next tick.
        this.sentAt = undefined
      },
    )
  }

  private overdue(): boolean {
    return this.sentAt !== undefined && this.o.now() - this.sentAt > this.o.timeoutMs
  }
}
