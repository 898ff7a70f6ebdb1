/** Reconnect delays (shared/client/backoff.ts): full jitter under a doubling, capped ceiling. */
import { describe, expect, it } from 'vitest'
import { Backoff } from '../../../shared/client/backoff.ts'

describe('Backoff', () => {
  it('draws below a ceiling that doubles from 500 ms up to 30 s', () => {
    const top = new Backoff({ random: () => 0.999999 })
    const ceilings = Array.from({ length: 9 }, () => top.next() + 1)
    expect(ceilings).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000])
  })

  it('spreads over the whole range below the ceiling (full jitter)', () => {
    expect(new Backoff({ random: () => 0 }).next()).toBe(0)
    expect(new Backoff({ random: () => 0.5 }).next()).toBe(250)
  })

  it("never comes back sooner than the server's retryAfterMs", () => {
    expect(new Backoff({ random: () => 0 }).next(1200)).toBe(1200)
  })

  it('starts again from the first ceiling after reset', () => {
    const b = new Backoff({ random: () => 0.999999 })
    for (let i = 0; i < 5; i++) b.next()
    b.reset()
    expect(b.next() + 1).toBe(500)
  })

  it('stays finite after many attempts', () => {
    const b = new Backoff({ random: () => 0.999999 })
    for (let i = 0; i < 2000; i++) b.next()
    expect(b.next() + 1).toBe(30_000)
  })
})
