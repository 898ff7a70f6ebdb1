import { RATE_BUCKETS_SWEEP_THRESHOLD_COUNT } from '../constants.ts'
import { TokenBucket } from './token-bucket.ts'

/**
 * A token bucket per key: a client address, for requests that must be
 * rate-limited before any work is done on them, or a user, for the bytes
 * their syncs replay. A bucket that has refilled holds nothing worth
 * keeping, so idle keys are swept once many are held.
 */
export class AddressRate {
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly perSecond: number
  private readonly burst: number

  /**
   * @param perSecond - sustained rate per address
   * @param burst - bucket size per address
   * @throws TypeError unless perSecond > 0 and burst >= 1
   * @example
   * ```ts
   * const pushes = new AddressRate(10, 20)
   * if (pushes.take(address, Date.now()) > 0) return tooManyRequests()
   * ```
   */
  constructor(perSecond: number, burst: number) {
    if (!(perSecond > 0) || !(burst >= 1)) {
      throw new TypeError('AddressRate: perSecond > 0 and burst >= 1 required')
    }
    this.perSecond = perSecond
    this.burst = burst
  }

  /**
   * Take one token for `address`.
   *
   * @param now - ms clock reading
   * @returns 0 when taken, else milliseconds until one is available
   */
  take(address: string, now: number): number {
    return this.bucket(address, now).take(now)
  }

  /**
   * Milliseconds until `key` has a token again (0: now), taking none.
   *
   * @param now - ms clock reading
   */
  wait(key: string, now: number): number {
    return this.buckets.get(key)?.wait(now) ?? 0
  }

  /**
   * Charge `key` a cost known after the work (see {@link TokenBucket.spend}).
   *
   * @param now - ms clock reading
   * @param cost - tokens to take, possibly more than are left
   */
  spend(key: string, now: number, cost: number): void {
    this.bucket(key, now).spend(now, cost)
  }

  private bucket(key: string, now: number): TokenBucket {
    let bucket = this.buckets.get(key)
    if (!bucket) {
      if (this.buckets.size >= RATE_BUCKETS_SWEEP_THRESHOLD_COUNT) this.sweep(now)
      bucket = new TokenBucket(this.perSecond, this.burst, now)
      this.buckets.set(key, bucket)
    }
    return bucket
  }

  private sweep(now: number): void {
    for (const [address, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(address)
  }
}
