/**
 * The replay budget of `rt:sync` in Redis (docs/protocol.md §9): one token
 * bucket per user, spent by any node, refilled on Redis's clock, and a key
 * that expires once the bucket would be full again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisReplayBudget } from '../../../realtime/streams/replay-budget.ts'
import { API_REDIS_PREFIX } from '../../../realtime/constants.ts'
import { cleanup, connectRedis, type TestRedisClient } from '../../cluster/support.ts'

let client: TestRedisClient
let user = 0
const nextUser = () => `u-${process.pid}-${++user}`
const limits = { maxBytes: 10_000, windowMs: 60_000 }

beforeAll(async () => {
  ;({ client } = await connectRedis())
}, 30_000)
afterAll(() => cleanup())

describe('the Redis replay budget', () => {
  it('lets a user replay until the budget is spent, then says how long until it has refilled enough', async () => {
    // Two budgets on one Redis: two nodes.
    const one = redisReplayBudget(client, limits)
    const two = redisReplayBudget(client, limits)
    const sub = nextUser()
    expect(await one.wait(sub)).toBe(0)
    await one.spend(sub, 4_000)
    expect(await two.wait(sub)).toBe(0)
    // Into debt: 10,000 - 4,000 - 16,000 = -10,000 bytes, repaid at 10,000 per 60 s.
    await two.spend(sub, 16_000)
    const wait = await one.wait(sub)
    expect(wait).toBeGreaterThan(30_000)
    expect(wait).toBeLessThanOrEqual(60_006)
    expect(await two.wait(nextUser())).toBe(0)
  })

  it('holds a key only while the bucket is below full, and none for a user who only asked', async () => {
    const budget = redisReplayBudget(client, limits)
    const asked = nextUser()
    expect(await budget.wait(asked)).toBe(0)
    expect(await client.exists(`${API_REDIS_PREFIX}sync-budget:${asked}`)).toBe(0)
    const spent = nextUser()
    await budget.spend(spent, 5_000)
    // Half spent refills in 30 s; the key outlives that by at most a second.
    const ttl = await client.pTTL(`${API_REDIS_PREFIX}sync-budget:${spent}`)
    expect(ttl).toBeGreaterThan(15_000)
    expect(ttl).toBeLessThanOrEqual(31_000)
  })

  it('keeps any sub apart, whatever characters it holds', async () => {
    const budget = redisReplayBudget(client, limits)
    const odd = `${nextUser()}:{tag} ü ${'x'.repeat(200)}`
    await budget.spend(odd, 20_000)
    expect(await budget.wait(odd)).toBeGreaterThan(0)
    expect(await budget.wait(`${odd}-not`)).toBe(0)
  })
})
