import type { LifecycleEvent } from '../types.ts'

/**
 * Where one endpoint's deliverer gets its events and settles them: the
 * endpoint's Redis consumer group when clustered (so one node at a time
 * holds each event, and another claims what a dead node held), or a cursor
 * over the memory log alone.
 */
export interface DeliverySource {
  /**
   * Whether `read` waits for new events when there are none (a blocking
   * read): the deliverer then reads in a loop of its own, not on its timer.
   */
  readonly blocking: boolean
  /** Up to `count` events nobody has read yet; each is now held by this node. */
  read(count: number): Promise<LifecycleEvent[]>
  /** Events another node held and stopped renewing (it died); now held by this node. */
  claim(count: number): Promise<LifecycleEvent[]>
  /** Renew this node's hold on events it still retries, so no node claims them. */
  keep(offsets: string[]): Promise<void>
  /** Settle events (one command for all): delivered, dropped after the retry window, or not for this endpoint. */
  ack(offsets: readonly string[]): Promise<void>
  /** Whether the endpoint was disabled (a 410), by any node. */
  disabled(): Promise<boolean>
  disable(): Promise<void>
  /** ms time of the oldest event not yet delivered to this endpoint, cluster-wide; undefined when none. */
  oldestUndelivered(): Promise<number | undefined>
  /** Release what the source holds (a blocking read's connection); a read in progress rejects. */
  close(): void
}
