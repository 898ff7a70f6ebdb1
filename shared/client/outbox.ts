import type { Ack, Envelope } from '../envelope.ts'
import { ClientError, type ClientErrorCode } from './client-error.ts'

/** Options of {@link Outbox}. */
export interface OutboxOptions {
  /** Emits held while the connection is not ready; one more is refused `queue_full`. */
  limit: number
  /** Put one envelope on the wire with its ack callback. */
  send: (event: string, envelope: Envelope, ack: (reply: Ack) => void) => void
}

/**
 * The error an ack carries (docs/protocol.md §5), with its code, message and
 * `retryAfterMs`; undefined for `{ ok: true }`. A reply that is not an ack
 * is a `server_error`, never a success.
 */
export function refusalOf(reply: Ack | null | undefined): ClientError | undefined {
  if (reply?.ok) return undefined
  const error = reply?.error as { code?: string; message?: string; retryAfterMs?: number }
  return new ClientError(
    (error?.code ?? 'server_error') as ClientErrorCode,
    error?.message ?? 'refused',
    error?.retryAfterMs,
  )
}

interface Pending {
  event: string
  envelope: Envelope
  resolve: (value: unknown) => void
  reject: (err: ClientError) => void
  timer: ReturnType<typeof setTimeout>
}

/**
 * A client's emits that wait for their acks: sent at once while the
 * connection is ready, otherwise held in order (up to `limit`) and sent by
 * {@link Outbox.flush}. Each settles exactly once: with the ack's data, with
 * the refusal's code, with `timeout` (queue time counts), or with the error
 * that ended the connection. An envelope is never sent twice.
 */
export class Outbox {
  private readonly held: Pending[] = []
  /** Sent, ack not yet in. Socket.IO drops ack callbacks on disconnect, so these are settled here. */
  private readonly inflight = new Set<Pending>()
  private readonly options: OutboxOptions

  constructor(options: OutboxOptions) {
    this.options = options
  }

  /**
   * Send `envelope` now (`ready`) or hold it.
   *
   * @returns the ack's `data`
   * @throws ClientError `queue_full`, `timeout`, or the refusal's code
   */
  submit(event: string, envelope: Envelope, timeoutMs: number, ready: boolean): Promise<unknown> {
    if (!ready && this.held.length >= this.options.limit) {
      return Promise.reject(
        new ClientError('queue_full', `${this.options.limit} messages already waiting`),
      )
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { event, envelope, resolve, reject, timer: undefined! }
      pending.timer = setTimeout(() => {
        this.settle(pending, new ClientError('timeout', `${event}: no ack within ${timeoutMs} ms`))
      }, timeoutMs)
      if (ready) this.send(pending)
      else this.held.push(pending)
    })
  }

  /** Send what is held, in the order it was submitted. */
  flush(): void {
    for (const pending of this.held.splice(0)) this.send(pending)
  }

  /** The connection is gone: acks in flight can no longer arrive; they are not resent (the server may have handled them). */
  dropInflight(): void {
    for (const pending of [...this.inflight]) {
      this.settle(
        pending,
        new ClientError('disconnected', `${pending.event}: connection lost before the ack`),
      )
    }
  }

  /** Settle everything held and in flight with `err`. */
  rejectAll(err: ClientError): void {
    for (const pending of [...this.held, ...this.inflight]) this.settle(pending, err)
  }

  /** Emits held, not yet sent. */
  get size(): number {
    return this.held.length
  }

  private send(pending: Pending): void {
    this.inflight.add(pending)
    this.options.send(pending.event, pending.envelope, (reply) => {
      this.settle(pending, refusalOf(reply), reply?.ok ? reply.data : undefined)
    })
  }

  /** The one way out: whatever settles second (a late ack after a timeout) finds nothing. */
  private settle(pending: Pending, err: ClientError | undefined, value?: unknown): void {
    const wasHeld = this.held.indexOf(pending)
    if (wasHeld >= 0) this.held.splice(wasHeld, 1)
    else if (!this.inflight.delete(pending)) return
    clearTimeout(pending.timer)
    if (err) pending.reject(err)
    else pending.resolve(value)
  }
}
