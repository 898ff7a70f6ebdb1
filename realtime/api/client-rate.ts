import {
  DEFAULT_API_BURST,
  DEFAULT_API_RATE_PER_SECOND,
  MAX_API_RATE_BUCKETS,
} from '../constants.ts'
import { TokenBucket } from '../limits/token-bucket.ts'

/** Options of {@link ClientRateLimiter}. */
export interface ClientRateLimiterOptions {
  /** Sustained requests per second per client. @default 100 */
  perSecond?: number
  /** Burst per client. @default 200 */
  burst?: number
  /** Clients tracked at most. @default 10000 */
  maxClients?: number
  /** ms clock. @default Date.now */
  now?: () => number
}

/**
 * The server API's rate limit per service client (docs/protocol.md §8): a
 * token bucket each. A full bucket carries no state worth keeping, so those
 * go first when the map is at its bound, then the least recently used.
 */
export class ClientRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly o: Required<ClientRateLimiterOptions>

  constructor(options: ClientRateLimiterOptions = {}) {
    this.o = {
      perSecond: DEFAULT_API_RATE_PER_SECOND,
      burst: DEFAULT_API_BURST,
      maxClients: MAX_API_RATE_BUCKETS,
      now: Date.now,
      ...options,
    }
    if (!(this.o.maxClients >= 1))
      throw new TypeError('ClientRateLimiter: maxClients >= 1 required')
  }

  /**
   * Take one request for `clientId`.
   *
   * @returns 0 when allowed, else milliseconds until it would be
   */
  take(clientId: string): number {
    const now = this.o.now()
    let bucket = this.buckets.get(clientId)
    if (bucket) this.buckets.delete(clientId)
    else {
      bucket = new TokenBucket(this.o.perSecond, this.o.burst, now)
      this.makeRoom(now)
    }
    this.buckets.set(clientId, bucket)
    return bucket.take(now)
  }

  /** Clients tracked (for the metric). */
  get size(): number {
    return this.buckets.size
  }

  private makeRoom(now: number): void {
    if (this.buckets.size < this.o.maxClients) return
    for (const [id, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(id)
    while (this.buckets.size >= this.o.maxClients)
      this.buckets.delete(this.buckets.keys().next().value!)
  }
}
