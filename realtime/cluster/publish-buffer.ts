/** Most cross-node publishes a node holds while Redis is away (issue 14 item 7). */
export const MAX_BUFFERED_PUBLISHES = 10_000

/** A message waiting, and how to tell its publisher what Redis answered ('' if it never got there). */
interface Held<M> {
  message: M
  done: (result: unknown) => void
}

/** Options of {@link PublishBuffer}. */
export interface PublishBufferOptions<M> {
  /** Writes one message to Redis (the adapter's own publish: XADD or PUBLISH). */
  send: (message: M) => Promise<unknown>
  /** Whether Redis can take writes now. */
  available: () => boolean
  /** @default {@link MAX_BUFFERED_PUBLISHES} */
  maxMessages?: number
  /** Called with how many of the oldest messages were dropped to stay within the bound. */
  onDropped?: (count: number) => void
}

/**
 * An ordered, bounded outbox between a node and Redis. Every cross-node
 * publish goes through it: while Redis is available it is written at once
 * (each batch pipelined on the one connection, so Redis applies them in
 * order); while Redis is away, or a batch is in flight, messages wait here in
 * order and are written when Redis answers again. A write that fails (the
 * connection dropped under it) goes back to the front, so a short outage
 * loses nothing; past the bound the oldest are dropped and counted. Nothing
 * local waits on it: `push` returns at once.
 *
 * @example
 * ```ts
 * const outbox = new PublishBuffer({ send: (m) => publish(m), available: () => health.available() })
 * outbox.push(message)
 * health.onAvailable = () => outbox.flush()
 * ```
 */
export class PublishBuffer<M> {
  private readonly o: Required<PublishBufferOptions<M>>
  private queue: Held<M>[] = []
  private inFlight = false

  constructor(options: PublishBufferOptions<M>) {
    this.o = { maxMessages: MAX_BUFFERED_PUBLISHES, onDropped: () => {}, ...options }
    if (!(this.o.maxMessages > 0))
      throw new TypeError('PublishBuffer: maxMessages must be positive')
  }

  /** Messages waiting for Redis. */
  get size(): number {
    return this.queue.length
  }

  /**
   * Queue a message and write it as soon as Redis can take it. Nothing need
   * wait on the result: it resolves with Redis's answer once written (the
   * stream offset, for an XADD), or with '' if the message was dropped.
   */
  push(message: M): Promise<unknown> {
    let done!: (result: unknown) => void
    const written = new Promise<unknown>((resolve) => (done = resolve))
    this.queue.push({ message, done })
    this.trim()
    this.flush()
    return written
  }

  /** Write what waits, in order, if Redis is available and no batch is in flight. */
  flush(): void {
    if (this.inFlight || this.queue.length === 0 || !this.o.available()) return
    const batch = this.queue
    this.queue = []
    this.inFlight = true
    void Promise.allSettled(batch.map((held) => this.o.send(held.message))).then((results) => {
      this.inFlight = false
      const failed: Held<M>[] = []
      results.forEach((result, i) => {
        if (result.status === 'fulfilled') batch[i]!.done(result.value)
        else failed.push(batch[i]!)
      })
      if (failed.length > 0) {
        this.queue = failed.concat(this.queue)
        this.trim()
      }
      // Anything that arrived meanwhile, or failed, goes when Redis is back.
      if (failed.length === 0) this.flush()
    })
  }

  private trim(): void {
    const excess = this.queue.length - this.o.maxMessages
    if (excess <= 0) return
    for (const held of this.queue.splice(0, excess)) held.done('')
    this.o.onDropped(excess)
  }
}
