import { describe, expect, it } from 'vitest'
import { createMemoryReplayCache } from '../../../shared/dpop/index.ts'

describe('createMemoryReplayCache', () => {
  it('a jti is fresh once, then a replay', async () => {
    const cache = createMemoryReplayCache()
    expect(await cache.claim('a')).toBe(true)
    expect(await cache.claim('a')).toBe(false)
    expect(await cache.claim('b')).toBe(true)
    expect(cache.size).toBe(2)
  })

  it('forgets a jti after its TTL, on a fake clock', async () => {
    let now = 1_000_000
    const cache = createMemoryReplayCache({ ttlSeconds: 300, now: () => now })
    expect(await cache.claim('a')).toBe(true)
    now += 299_999
    expect(await cache.claim('a')).toBe(false)
    now += 1
    expect(await cache.claim('a')).toBe(true)
    expect(cache.size).toBe(1)
  })

  it('full of live entries, it throws unavailable and keeps every old jti (refusing, not forgetting)', async () => {
    let now = 0
    const cache = createMemoryReplayCache({ maxEntries: 2, now: () => now })
    await cache.claim('a')
    await cache.claim('b')
    await expect(cache.claim('c')).rejects.toMatchObject({ name: 'AppError', code: 'unavailable' })
    expect(cache.refusedFull).toBe(1)
    expect(await cache.claim('a')).toBe(false)
    now += 300_000
    expect(await cache.claim('c')).toBe(true)
    expect(cache.size).toBe(1)
  })

  it.each([0, -1, 1.5, Number.NaN])('maxEntries %s is a TypeError', (maxEntries) => {
    expect(() => createMemoryReplayCache({ maxEntries })).toThrow(TypeError)
  })
})
