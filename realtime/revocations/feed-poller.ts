import * as v from 'valibot'
import { RevocationEventSchema, type RevocationEvent } from '../../shared/claims.ts'
import type { Logger } from '../log.ts'
import { REVOCATION_POLL_MS, REVOCATION_POLL_TIMEOUT_MS } from '../constants.ts'

const FeedPage = v.object({
  events: v.array(RevocationEventSchema),
  next: v.pipe(v.number(), v.integer(), v.minValue(0)),
})

/** Options of {@link FeedPoller}. */
export interface FeedPollerOptions {
  /** The edge's base URL. */
  edgeUrl: string
  /** The feed's bearer token. */
  feedToken: string
  /** Receives each page's events, in cursor order. */
  apply: (events: RevocationEvent[]) => void
  /** Pause between polls, ms. @default 2000 */
  intervalMs?: number
  /** Timeout of one poll, ms. @default 5000 */
  timeoutMs?: number
  fetch?: typeof globalThis.fetch
  logger?: Logger
}

/**
 * Pulls the edge's revocation feed from the last cursor (docs/protocol.md §6), so a
 * node that missed pushes (down, partitioned, just started) catches up. It
 * starts at cursor 0, which returns the events still in force, and counts
 * as synced once a poll has reached the end of the feed.
 */
export class FeedPoller {
  private cursor = 0
  private isSynced = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private abort: AbortController | undefined
  private stopped = true
  private readonly options: Required<Omit<FeedPollerOptions, 'logger'>> &
    Pick<FeedPollerOptions, 'logger'>

  constructor(options: FeedPollerOptions) {
    this.options = {
      intervalMs: REVOCATION_POLL_MS,
      timeoutMs: REVOCATION_POLL_TIMEOUT_MS,
      fetch: globalThis.fetch,
      ...options,
    }
  }

  /** Whether the feed has been read to its end at least once. */
  synced(): boolean {
    return this.isSynced
  }

  /** The last cursor applied. */
  position(): number {
    return this.cursor
  }

  /** Start polling now. */
  start(): void {
    if (!this.stopped) return
    this.stopped = false
    void this.poll()
  }

  /** Stop polling; an in-flight request is aborted. */
  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.abort?.abort()
  }

  private async poll(): Promise<void> {
    if (this.stopped) return
    let again = this.options.intervalMs
    this.abort = new AbortController()
    const timeout = setTimeout(() => this.abort?.abort(), this.options.timeoutMs)
    try {
      const res = await this.options.fetch(
        `${this.options.edgeUrl}/auth/revocations?after=${this.cursor}`,
        {
          headers: { authorization: `Bearer ${this.options.feedToken}` },
          signal: this.abort.signal,
        },
      )
      if (!res.ok) {
        await res.body?.cancel()
        throw new Error(`HTTP ${res.status}`)
      }
      const page = v.parse(FeedPage, await res.json())
      if (page.events.length > 0) this.options.apply(page.events)
      const advanced = page.next > this.cursor
      this.cursor = Math.max(this.cursor, page.next)
      // A page that moved the cursor may have more behind it: ask again at once.
      if (advanced && page.events.length > 0) again = 0
      else this.isSynced = true
    } catch (err) {
      if (!this.stopped)
        this.options.logger?.('warn', 'revocation feed poll failed', {
          error: (err as Error).message,
        })
    } finally {
      clearTimeout(timeout)
    }
    if (this.stopped) return
    this.timer = setTimeout(() => void this.poll(), again)
    this.timer.unref()
  }
}
