/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** Random source for the jitter. @default Math.random */
  random?: () => number
  /** The first ceiling, ms. @default 500 */
  baseMs?: number
  /** The highest ceiling, ms. @default 30000 */
  maxMs?: number
  /**
   * `full`: a draw from [0, ceiling); `equal`: from [ceiling/2, ceiling), for
   * a retry that must never come back at once (a server retrying an upstream).
   * @default 'full'
   */
  jitter?: 'full' | 'equal'
}

/**
 * Retry delays with jitter over an exponential ceiling: a uniform draw from
 * [0, min(max, base·2^attempt)) (full jitter; or its upper half with
 * `jitter: 'equal'`), so a fleet of clients refused at once spreads its
 * retries instead of returning together.
 */
export class Backoff {
  private attempt = 0
  private readonly random: () => number
  private readonly baseMs: number
  private readonly maxMs: number
  private readonly floor: number

  constructor(options: BackoffOptions = {}) {
    this.random = options.random ?? Math.random
    this.baseMs = options.baseMs ?? 500
    this.maxMs = options.maxMs ?? 30_000
    this.floor = options.jitter === 'equal' ? 0.5 : 0
  }

  /**
   * The next delay, never under `minimumMs` (a server's `retryAfterMs`).
   *
   * @param minimumMs - the least delay. @default 0
   */
  next(minimumMs = 0): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt)
    this.attempt = Math.min(this.attempt + 1, 31)
    const share = this.floor + (1 - this.floor) * this.random()
    return Math.max(minimumMs, Math.floor(share * ceiling))
  }

  /** Start again from the first ceiling (after a connection succeeds). */
  reset(): void {
    this.attempt = 0
  }
}
