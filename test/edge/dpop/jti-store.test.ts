import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { durableReplayCache } from '../../../edge/dpop/replay-cache.ts'
import { dpopServerKey } from '../../../edge/dpop/server-key.ts'

const T0 = 1_800_000_000_000

function shard() {
  return env.DPOP_JTIS.get(env.DPOP_JTIS.idFromName(`test-${crypto.randomUUID()}`))
}

describe('DpopJtiStore: one shard of the replay cache', () => {
  it('a jti is fresh once, then a replay until its TTL has passed', async () => {
    const store = shard()
    expect(await store.claim('a', T0, 300, 10)).toBe('fresh')
    expect(await store.claim('a', T0 + 299_000, 300, 10)).toBe('replayed')
    expect(await store.claim('a', T0 + 300_000, 300, 10)).toBe('fresh')
  })

  it('holds at most maxRows live jtis: full, it refuses a new one rather than forget an old one', async () => {
    const store = shard()
    expect(await store.claim('a', T0, 300, 2)).toBe('fresh')
    expect(await store.claim('b', T0, 300, 2)).toBe('fresh')
    expect(await store.claim('c', T0, 300, 2)).toBe('full')
    // The old ones are still remembered.
    expect(await store.claim('a', T0 + 1000, 300, 2)).toBe('replayed')
    expect(await store.size(T0 + 1000)).toBe(2)
    // Once they expire the room comes back.
    expect(await store.claim('c', T0 + 301_000, 300, 2)).toBe('fresh')
    expect(await store.size(T0 + 301_000)).toBe(1)
  })
})

describe('durableReplayCache', () => {
  it('a full shard is 503 unavailable (AppError), never an acceptance', async () => {
    const key = await dpopServerKey(env.KEY_ENCRYPTION_KEY)
    // One shard of one row, on a clock far from other tests' so their jtis have expired.
    const cache = durableReplayCache(env.DPOP_JTIS, {
      key,
      nowMs: Date.now() + 10 * 365 * 86400_000,
      shards: 1,
      maxRowsPerShard: 1,
    })
    expect(await cache.claim(crypto.randomUUID())).toBe(true)
    await expect(cache.claim(crypto.randomUUID())).rejects.toMatchObject({ code: 'unavailable' })
  })

  it('the same jti always reaches the same shard, so a replay is seen whichever shard count applies', async () => {
    const key = await dpopServerKey(env.KEY_ENCRYPTION_KEY)
    const cache = durableReplayCache(env.DPOP_JTIS, { key, nowMs: Date.now() })
    const jti = crypto.randomUUID()
    expect(await cache.claim(jti)).toBe(true)
    expect(await cache.claim(jti)).toBe(false)
  })
})
