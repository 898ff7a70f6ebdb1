import {
  WEBHOOK_FIRST_RETRY_MS,
  WEBHOOK_MAX_RETRY_MS,
  WEBHOOK_RETRY_WINDOW_MS,
} from '../../constants.ts'

/** The retry schedule of a delivery (docs/protocol.md §16). */
export interface RetrySchedule {
  /** Base delay before the first retry, ms; the n-th waits `first · 2^(n-1)`, times 1 to 1.5 of jitter. @default WEBHOOK_FIRST_RETRY_MS (5 s: the first retry within 7.5 s) */
  firstRetryMs?: number
  /** Cap of a delay, jitter included, ms. @default WEBHOOK_MAX_RETRY_MS (1 h) */
  maxRetryMs?: number
  /** How long after its event a delivery is still tried, ms. @default WEBHOOK_RETRY_WINDOW_MS (25 h) */
  retryWindowMs?: number
}

/**
 * The delay before retry `attempt` (1 for the first retry): doubling from
 * `firstRetryMs`, with up to 50 % jitter so endpoints that failed together
 * do not retry together, capped at `maxRetryMs`.
 *
 * @param attempt - 1-based retry number
 * @param schedule - {@link RetrySchedule}
 * @param random - a number in [0, 1). @default Math.random
 * @example
 * ```ts
 * retryDelayMs(1) // 5000–7500
 * retryDelayMs(30) // 3600000
 * ```
 */
export function retryDelayMs(
  attempt: number,
  schedule: RetrySchedule = {},
  random: () => number = Math.random,
): number {
  const first = schedule.firstRetryMs ?? WEBHOOK_FIRST_RETRY_MS
  const cap = schedule.maxRetryMs ?? WEBHOOK_MAX_RETRY_MS
  const base = first * 2 ** Math.min(attempt - 1, 40)
  return Math.min(cap, Math.round(base * (1 + random() / 2)))
}

/** Whether a delivery of an event recorded at `eventTs` is still tried at `now`. */
export function withinRetryWindow(
  eventTs: number,
  now: number,
  schedule: RetrySchedule = {},
): boolean {
  return now - eventTs <= (schedule.retryWindowMs ?? WEBHOOK_RETRY_WINDOW_MS)
}
