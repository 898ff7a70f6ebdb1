import { describe, expect, it } from 'vitest'
import { PublishBuffer } from '../../../realtime/cluster/publish-buffer.ts'
import { RedisHealth } from '../../../realtime/cluster/redis-health.ts'

/** A Redis stand-in whose writes the test settles. */
function fakeRedis() {
  const writes: { message: number; resolve: () => void; reject: () => void }[] = []
  return {
    writes,
    send: (message: number) =>
      new Promise<void>((resolve, reject) =>
        writes.push({ message, resolve, reject: () => reject(new Error('closed')) }),
      ),
  }
}
const ticks = () => new Promise((r) => setImmediate(r))

describe('PublishBuffer', () => {
  it('holds publishes in order while Redis is away and writes them when it is back', async () => {
    const redis = fakeRedis()
    let up = false
    const buffer = new PublishBuffer({ send: redis.send, available: () => up })
    for (const m of [1, 2, 3]) buffer.push(m)
    expect(redis.writes).toEqual([])
    up = true
    buffer.flush()
    expect(redis.writes.map((w) => w.message)).toEqual([1, 2, 3])
  })

  it('puts failed writes back at the front, ahead of what arrived meanwhile', async () => {
    const redis = fakeRedis()
    let up = true
    const buffer = new PublishBuffer({ send: redis.send, available: () => up })
    buffer.push(1)
    buffer.push(2) // waits behind the batch in flight
    up = false
    redis.writes[0]!.reject()
    await ticks()
    expect(buffer.size).toBe(2)
    up = true
    buffer.flush()
    expect(redis.writes.slice(1).map((w) => w.message)).toEqual([1, 2])
  })

  it('drops the oldest past the bound and counts them', () => {
    const dropped: number[] = []
    const buffer = new PublishBuffer({
      send: fakeRedis().send,
      available: () => false,
      maxMessages: 3,
      onDropped: (n) => dropped.push(n),
    })
    for (let m = 1; m <= 5; m++) buffer.push(m)
    expect(buffer.size).toBe(3)
    expect(dropped).toEqual([1, 1])
  })
})

describe('RedisHealth', () => {
  it('marks a Redis that stops answering unavailable after the timeout, and available once it answers', async () => {
    let now = 0
    let answer: (() => void) | undefined
    let pings = 0
    const health = new RedisHealth({
      ping: () => new Promise<void>((r) => ((answer = r), pings++)),
      connected: () => true,
      timeoutMs: 1000,
      now: () => now,
    })
    health.tick()
    expect(health.available()).toBe(true)
    now = 1001
    health.tick()
    expect(health.available()).toBe(false)
    health.tick()
    expect(pings).toBe(1) // one ping at a time, however long Redis hangs
    answer!()
    await ticks()
    expect(health.available()).toBe(true)
  })
})
