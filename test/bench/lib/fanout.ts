/**
 * Room fan-out, as the holder process runs it: groups of receiving sockets
 * (each a member of the server's fan-out room) that count every `fan` event
 * and check its sequence number, and a sender that keeps a window of
 * broadcasts outstanding, a broadcast being complete once every receiver of
 * the group has it. A receiver that misses, repeats or reorders a broadcast,
 * or closes, fails the run: no drop goes unnoticed.
 */
import type { SioClient } from './sio-client.ts'

/** The server room the bench's `fanout` event broadcasts to (see test/bench/server.ts). */
export const FANOUT_ROOM = 'bench-fanout'
/** Handshake query that puts a socket in {@link FANOUT_ROOM}. */
export const FANOUT_QUERY = { fanout: '1' } as const

/** Arguments of the holder's `fanout` command. */
export interface FanoutCommand {
  /** The receiving group (the `group` its sockets were connected with). */
  group: string
  /** Measure for this long, ms. */
  ms: number
  /** Broadcasts outstanding at once. */
  window: number
  /** Give up waiting for outstanding broadcasts after this long, ms. @default 10_000 */
  drainTimeoutMs?: number
}

/** What one `fanout` command measured. */
export interface FanoutResult {
  /** Broadcasts completed (received by every receiver) within `ms`. */
  completed: number
  /** Broadcasts sent, the drain included. */
  sent: number
  /** Deliveries counted within `ms` (completed × receivers). */
  delivered: number
  receivers: number
  ms: number
}

/** A group of receivers and its sender. */
export class FanoutGroup {
  private readonly receivers = new Map<SioClient, number>()
  /** Receipts still missing per outstanding broadcast, by sequence number. */
  private readonly missing = new Map<number, number>()
  private failure = ''
  private seq = 0
  private onComplete: (() => void) | undefined
  sender: SioClient | undefined

  /** Add a receiver; its first broadcast must be the next one sent. */
  add(client: SioClient): void {
    this.receivers.set(client, this.seq)
  }

  /** A receiver closed: the group can no longer be measured. */
  lost(client: SioClient): void {
    if (this.receivers.delete(client)) this.failure ||= 'a receiver closed'
  }

  /** A `fan` event `{ n }` reached `client`. */
  receive(client: SioClient, arg: unknown): void {
    const last = this.receivers.get(client)
    const n = (arg as { n?: unknown } | null)?.n
    if (last === undefined || typeof n !== 'number') return
    if (n !== last + 1) {
      this.failure ||= `a receiver got broadcast ${n} after ${last}`
      return
    }
    this.receivers.set(client, n)
    const left = this.missing.get(n)
    if (left === undefined) return void (this.failure ||= `broadcast ${n} was never sent`)
    if (left > 1) return void this.missing.set(n, left - 1)
    this.missing.delete(n)
    this.onComplete?.()
  }

  /** Close every socket of the group. */
  close(): void {
    this.sender?.close()
    for (const client of this.receivers.keys()) client.close()
    this.receivers.clear()
  }

  /** Broadcast with `window` outstanding for `ms`, then drain and verify every delivery. */
  async run(command: FanoutCommand): Promise<FanoutResult> {
    const sender = this.sender
    if (!sender?.open) throw new Error('fanout: the group has no sender')
    const receivers = this.receivers.size
    if (receivers === 0) throw new Error('fanout: the group has no receivers')
    if (this.failure) throw new Error(`fanout: ${this.failure}`)
    const first = this.seq
    let completed = 0
    let stopping = false
    let drained: (() => void) | undefined
    const send = () => {
      const n = ++this.seq
      this.missing.set(n, receivers)
      sender.emitJson(
        `["fanout",{"v":1,"id":"f${n}","ts":${Date.now()},"data":{"n":${n}}}]`,
        (reply) => {
          if (!reply.startsWith('[{"ok":true')) this.failure ||= `refused: ${reply.slice(0, 200)}`
        },
      )
    }
    this.onComplete = () => {
      if (!stopping) {
        completed++
        if (!this.failure) send()
      }
      if (this.missing.size === 0) drained?.()
    }
    const started = performance.now()
    for (let i = 0; i < command.window; i++) send()
    await new Promise((r) => setTimeout(r, command.ms))
    stopping = true
    const ms = performance.now() - started
    if (this.missing.size > 0) {
      const timeoutMs = command.drainTimeoutMs ?? 10_000
      let timer: ReturnType<typeof setTimeout> | undefined
      await new Promise<void>((resolve) => {
        drained = resolve
        timer = setTimeout(resolve, timeoutMs)
      })
      clearTimeout(timer)
    }
    this.onComplete = undefined
    if (this.failure) throw new Error(`fanout: ${this.failure}`)
    if (this.missing.size > 0)
      throw new Error(`fanout: ${this.missing.size} broadcast(s) not delivered to every receiver`)
    for (const last of this.receivers.values())
      if (last !== this.seq) throw new Error(`fanout: a receiver stopped at ${last} of ${this.seq}`)
    return { completed, sent: this.seq - first, delivered: completed * receivers, receivers, ms }
  }
}
