/** Options of {@link DeadlineWheel}. */
export interface DeadlineWheelOptions<T> {
  /** Called once for each item whose deadline has passed. */
  onDue: (item: T) => void
  /** Tick and bucket width, ms. @default 250 */
  resolutionMs?: number
  /** ms clock. @default Date.now */
  now?: () => number
}

/**
 * Deadlines for many items with one timer: a hashed wheel of `resolutionMs`
 * buckets. Scheduling and cancelling are O(1), and the process holds one
 * unref'd interval however many sockets it has, where a `setTimeout` per
 * socket would keep 50,000 timers (twice that with the expiry notice) in
 * libuv's heap and pay O(log n) on every refresh.
 */
export class DeadlineWheel<T> {
  private readonly buckets = new Map<number, Set<T>>()
  private readonly slotOf = new Map<T, number>()
  private readonly resolution: number
  private readonly now: () => number
  private readonly onDue: (item: T) => void
  private cursor: number
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(options: DeadlineWheelOptions<T>) {
    this.onDue = options.onDue
    this.resolution = options.resolutionMs ?? 250
    this.now = options.now ?? Date.now
    this.cursor = Math.floor(this.now() / this.resolution)
  }

  /** Schedule `item` at `atMs`, replacing any earlier schedule of it. */
  schedule(item: T, atMs: number): void {
    this.cancel(item)
    const slot = Math.max(Math.ceil(atMs / this.resolution), this.cursor + 1)
    let bucket = this.buckets.get(slot)
    if (!bucket) this.buckets.set(slot, (bucket = new Set()))
    bucket.add(item)
    this.slotOf.set(item, slot)
    this.timer ??= setInterval(() => this.tick(), this.resolution).unref()
  }

  /** Forget `item`. */
  cancel(item: T): void {
    const slot = this.slotOf.get(item)
    if (slot === undefined) return
    this.slotOf.delete(item)
    const bucket = this.buckets.get(slot)
    bucket?.delete(item)
    if (bucket?.size === 0) this.buckets.delete(slot)
  }

  /** How many items are scheduled. */
  get size(): number {
    return this.slotOf.size
  }

  /** Fire every deadline that has passed. Called by the interval; public for tests with a fake clock. */
  tick(): void {
    const target = Math.floor(this.now() / this.resolution)
    while (this.cursor < target) {
      this.cursor++
      const bucket = this.buckets.get(this.cursor)
      if (!bucket) continue
      this.buckets.delete(this.cursor)
      for (const item of bucket) {
        this.slotOf.delete(item)
        this.onDue(item)
      }
    }
    if (this.slotOf.size === 0) this.stop()
  }

  /** Stop the timer and forget everything. */
  close(): void {
    this.buckets.clear()
    this.slotOf.clear()
    this.stop()
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }
}
