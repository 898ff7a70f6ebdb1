/**
 * A token bucket: `burst` tokens, refilled at `perSecond`. Two numbers of
 * state, so one per socket costs nothing at 50,000 sockets.
 */
export class TokenBucket {
  private tokens: number
  private updated: number
  private readonly perMs: number
  private readonly burst: number

  /**
   * @param perSecond - sustained rate
   * @param burst - bucket size
   * @param now - ms clock reading at creation
   */
  constructor(perSecond: number, burst: number, now: number) {
    if (!(perSecond > 0) || !(burst >= 1))
      throw new TypeError('TokenBucket: perSecond > 0 and burst >= 1 required')
    this.perMs = perSecond / 1000
    this.burst = burst
    this.tokens = burst
    this.updated = now
  }

  /**
   * Take one token.
   *
   * @param now - ms clock reading
   * @returns 0 when taken, else milliseconds until one is available
   */
  take(now: number): number {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.perMs)
    this.updated = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 0
    }
    return Math.ceil((1 - this.tokens) / this.perMs)
  }

  /**
   * Milliseconds until a token is available (0: now), without taking one.
   *
   * @param now - ms clock reading
   */
  wait(now: number): number {
    const tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.perMs)
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.perMs)
  }

  /**
   * Take `cost` tokens at once, going into debt if there are fewer: for a
   * cost known only after the work it paid for (bytes replayed). The debt
   * is repaid at the refill rate before {@link TokenBucket.wait} says 0 again.
   *
   * @param now - ms clock reading
   * @param cost - tokens to take
   */
  spend(now: number, cost: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (now - this.updated) * this.perMs) - cost
    this.updated = now
  }

  /** Whether the bucket is full again (its state is then disposable). */
  full(now: number): boolean {
    return this.tokens + (now - this.updated) * this.perMs >= this.burst
  }
}
