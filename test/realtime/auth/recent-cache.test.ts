/**
 * The verifier's cache of recently verified tokens: bounded, and what is used
 * again stays while what is not makes room.
 */
import { describe, expect, it } from 'vitest'
import { RecentCache } from '../../../realtime/auth/recent-cache.ts'

describe('RecentCache', () => {
  it('never holds more than maxSize entries, however many are set', () => {
    const cache = new RecentCache<number, number>(10)
    for (let i = 0; i < 1000; i++) {
      cache.set(i, i)
      expect(cache.size).toBeLessThanOrEqual(10)
    }
    // The newest are held, the oldest are gone.
    expect(cache.get(999)).toBe(999)
    expect(cache.get(0)).toBeUndefined()
  })

  it('an entry used again survives the entries set after it; one not used is dropped', () => {
    const cache = new RecentCache<string, number>(4)
    cache.set('kept', 1)
    cache.set('dropped', 2)
    for (let i = 0; i < 20; i++) {
      expect(cache.get('kept')).toBe(1)
      cache.set(`filler-${i}`, i)
    }
    expect(cache.get('kept')).toBe(1)
    expect(cache.get('dropped')).toBeUndefined()
  })

  it('setting a held key replaces its value without a second entry', () => {
    const cache = new RecentCache<string, number>(4)
    cache.set('a', 1)
    cache.set('b', 2)
    cache.set('c', 3)
    cache.set('a', 4)
    expect(cache.get('a')).toBe(4)
    expect(cache.size).toBe(3)
  })

  it('a size under 2 holds nothing, and a size that is not a count is refused', () => {
    const none = new RecentCache<string, number>(0)
    none.set('a', 1)
    expect(none.get('a')).toBeUndefined()
    expect(none.size).toBe(0)
    expect(() => new RecentCache(-1)).toThrow(RangeError)
    expect(() => new RecentCache(1.5)).toThrow(RangeError)
  })
})
