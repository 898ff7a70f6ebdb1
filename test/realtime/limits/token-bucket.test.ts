import { describe, expect, it } from 'vitest'
import { TokenBucket } from '../../../realtime/limits/token-bucket.ts'

describe('TokenBucket', () => {
  it('allows a burst at once, then says how long until the next token', () => {
    const bucket = new TokenBucket(1, 3, 0)
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0])
    expect(bucket.take(0)).toBe(1000)
    expect(bucket.take(100)).toBe(900)
  })

  it('does not spend a token on a refused take', () => {
    const bucket = new TokenBucket(2, 1, 0)
    expect(bucket.take(0)).toBe(0)
    expect(bucket.take(100)).toBe(400)
    expect(bucket.take(200)).toBe(300)
    expect(bucket.take(500)).toBe(0)
    expect(bucket.take(500)).toBe(500)
  })

  it('refills at the sustained rate', () => {
    const bucket = new TokenBucket(10, 1, 0)
    let taken = 0
    for (let t = 0; t < 1000; t += 10) if (bucket.take(t) === 0) taken++
    expect(taken).toBe(10)
  })

  it('never holds more than the burst, however long it was idle', () => {
    const bucket = new TokenBucket(100, 2, 0)
    const later = 3_600_000
    expect([bucket.take(later), bucket.take(later), bucket.take(later)]).toEqual([0, 0, 10])
  })

  it('rounds a wait up to whole milliseconds, so a retry at that time succeeds', () => {
    const bucket = new TokenBucket(3, 1, 0)
    bucket.take(0)
    const wait = bucket.take(0)
    expect(wait).toBe(334)
    expect(bucket.take(wait)).toBe(0)
  })

  it('is full again once the burst has refilled', () => {
    const bucket = new TokenBucket(1, 2, 0)
    expect(bucket.full(0)).toBe(true)
    bucket.take(0)
    expect(bucket.full(0)).toBe(false)
    expect(bucket.full(999)).toBe(false)
    expect(bucket.full(1000)).toBe(true)
  })

  it.each([
    ['a zero rate', 0, 1],
    ['a negative rate', -1, 1],
    ['a NaN rate', Number.NaN, 1],
    ['a zero burst', 1, 0],
    ['a fractional burst under 1', 1, 0.5],
    ['a NaN burst', 1, Number.NaN],
  ])('refuses %s with a TypeError', (_, perSecond, burst) => {
    expect(() => new TokenBucket(perSecond, burst, 0)).toThrow(TypeError)
  })
})
