/**
 * The presence stores against one table of behaviour: this node's memory,
 * and a real Redis (our own redis-server) shared by two simulated nodes.
 * A fake clock drives the memory store; Redis batches are due on Redis's
 * clock, so those tests use a batch of 0 ms.
 */
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../realtime/log.ts'
import { ONLINE_ROOM } from '../../../realtime/constants.ts'
import { createMemoryStore } from '../../../realtime/presence/memory-store.ts'
import { createPresenceMetrics } from '../../../realtime/presence/metrics.ts'
import type { StoreContext } from '../../../realtime/presence/presence.ts'
import { createRedisStore } from '../../../realtime/presence/redis-store.ts'
import type { PresenceStore } from '../../../realtime/presence/types.ts'
import { cleanup as stopRedis, connectRedis, type TestRedisClient } from '../../cluster/support.ts'

let client: TestRedisClient
const opened: PresenceStore[] = []
beforeAll(async () => {
  ;({ client } = await connectRedis())
}, 30_000)
afterAll(async () => {
  for (const store of opened) await store.close()
  await stopRedis()
})

function context(overrides: Partial<StoreContext> = {}): StoreContext {
  return {
    local: { entries: () => [] },
    batchMs: 0,
    maxMembersPerRoom: 10_000,
    now: Date.now,
    metrics: createPresenceMetrics(new Registry(), {
      rooms: () => 0,
      entries: () => 0,
      pending: () => 0,
    }),
    logger: silentLogger,
    ...overrides,
  }
}

let prefixes = 0
/** A Redis store on a fresh prefix, as node `node`. */
function redisNode(
  prefix: string,
  node: string,
  overrides: Partial<StoreContext> = {},
  extra = {},
): PresenceStore {
  const store = createRedisStore({ client, onConnect: () => {}, prefix, nodeId: node, ...extra })(
    context(overrides),
  )
  opened.push(store)
  return store
}

const kinds: [string, (o?: Partial<StoreContext>) => PresenceStore][] = [
  [
    'memory',
    (o) =>
      createMemoryStore({
        batchMs: 0,
        ...(o?.maxMembersPerRoom && { maxMembersPerRoom: o.maxMembersPerRoom }),
      }),
  ],
  ['redis', (o) => redisNode(`t${++prefixes}-${Date.now()}:`, 'n1', o)],
]

describe.each(kinds)('the %s store', (_kind, make) => {
  it('pages a room of 2,500 members by sub, 1,000 at a time, with no repeats', async () => {
    const store = make()
    const subs = Array.from({ length: 2500 }, (_, i) => `u-${String(i).padStart(5, '0')}`)
    await Promise.all(subs.map((sub) => store.put('big', sub, sub.toUpperCase(), 1)))
    const seen: string[] = []
    let after: string | undefined
    const pages: number[] = []
    for (;;) {
      const page = await store.list('big', after, 1000)
      pages.push(page.members.length)
      seen.push(...page.members.map((m) => m.sub))
      if (!page.more) break
      after = page.members.at(-1)!.sub
    }
    expect(pages).toEqual([1000, 1000, 500])
    expect(seen).toEqual(subs)
    expect((await store.list('big', undefined, 1)).members).toEqual([
      { sub: 'u-00000', name: 'U-00000', connections: 1 },
    ])
  }, 30_000)

  it('nets a batch: a join then a leave, and a leave then a join, of one user are in neither list', async () => {
    const store = make()
    await store.put('r', 'stays', 's', 1)
    await store.put('r', 'back', 'b', 1)
    await store.takeDue()
    await store.put('r', 'flash', 'f', 1)
    await store.remove('r', 'flash')
    await store.remove('r', 'back')
    await store.put('r', 'back', 'b', 2)
    await store.put('r', 'new', 'n', 1)
    await store.remove('r', 'stays')
    expect(await store.takeDue()).toEqual([
      { room: 'r', joined: [{ sub: 'new', name: 'n' }], left: [{ sub: 'stays' }] },
    ])
    expect(await store.takeDue()).toEqual([])
  })

  it('lists at most maxMembersPerRoom users; the next one is refused until a place frees', async () => {
    const store = make({ maxMembersPerRoom: 2 })
    expect(await store.put('r', 'a', 'a', 1)).toBe(true)
    expect(await store.put('r', 'b', 'b', 1)).toBe(true)
    expect(await store.put('r', 'c', 'c', 1)).toBe(false)
    expect(await store.put('r', 'a', 'a', 2)).toBe(true)
    expect((await store.list('r', undefined, 10)).members.map((m) => m.sub)).toEqual(['a', 'b'])
    await store.remove('r', 'b')
    expect(await store.put('r', 'c', 'c', 1)).toBe(true)
  })

  it('keeps the online pseudo-room out of batches and caps', async () => {
    const store = make({ maxMembersPerRoom: 1 })
    await store.put(ONLINE_ROOM, 'a', 'a', 1)
    expect(await store.put(ONLINE_ROOM, 'b', 'b', 3)).toBe(true)
    expect(await store.member(ONLINE_ROOM, 'b')).toEqual({ sub: 'b', name: 'b', connections: 3 })
    expect(await store.takeDue()).toEqual([])
  })
})

describe('the memory store', () => {
  it('holds a batch until batchMs after its first change', async () => {
    let t = 0
    const store = createMemoryStore({ batchMs: 1000, now: () => t })
    await store.put('r', 'a', 'a', 1)
    t = 999
    expect(await store.takeDue()).toEqual([])
    expect(store.pendingChanges()).toBe(1)
    t = 1000
    expect(await store.takeDue()).toHaveLength(1)
    expect(store.pendingChanges()).toBe(0)
  })
})

describe('the redis store across nodes', () => {
  it('counts a user on two nodes once, sums the connections, and announces the leave only when both entries go', async () => {
    const prefix = `x${++prefixes}-${Date.now()}:`
    const [a, b] = [redisNode(prefix, 'a'), redisNode(prefix, 'b')]
    await a.put('r', 'u', 'alice', 2)
    await b.put('r', 'u', 'alice', 1)
    expect(await a.list('r', undefined, 10)).toEqual({
      members: [{ sub: 'u', name: 'alice', connections: 3 }],
      more: false,
    })
    expect(await b.takeDue()).toEqual([
      { room: 'r', joined: [{ sub: 'u', name: 'alice' }], left: [] },
    ])
    await a.remove('r', 'u')
    expect(await b.member('r', 'u')).toEqual({ sub: 'u', name: 'alice', connections: 1 })
    expect(await a.takeDue()).toEqual([])
    await b.remove('r', 'u')
    expect(await a.takeDue()).toEqual([{ room: 'r', joined: [], left: [{ sub: 'u' }] }])
  })

  it('gives each due batch to exactly one of several nodes taking at once', async () => {
    const prefix = `y${++prefixes}-${Date.now()}:`
    const nodes = ['a', 'b', 'c'].map((n) => redisNode(prefix, n))
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => nodes[i % 3]!.put(`room-${i}`, 'u', 'n', 1)),
    )
    const taken = (await Promise.all(nodes.map((n) => n.takeDue()))).flat()
    expect(taken.map((b) => b.room).sort()).toEqual(
      Array.from({ length: 50 }, (_, i) => `room-${i}`).sort(),
    )
  })

  it("sweeps a dead node's entries once its heartbeat expires, announcing the leaves of users no other node holds", async () => {
    const prefix = `z${++prefixes}-${Date.now()}:`
    const fast = { heartbeatMs: 50, nodeTtlMs: 200 }
    const dead = redisNode(prefix, 'dead', {}, fast)
    const live = redisNode(prefix, 'live', {}, fast)
    await dead.put('r', 'gone', 'g', 1)
    await dead.put('r', 'both', 'b', 1)
    await live.put('r', 'both', 'b', 1)
    await live.takeDue()
    await dead.close()
    let batches: Awaited<ReturnType<PresenceStore['takeDue']>> = []
    for (let i = 0; i < 500 && batches.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20))
      batches = await live.takeDue()
    }
    expect(batches).toEqual([{ room: 'r', joined: [], left: [{ sub: 'gone' }] }])
    expect(await live.member('r', 'both')).toEqual({ sub: 'both', name: 'b', connections: 1 })
    expect(await client.sIsMember(`${prefix}nodes`, 'dead')).toBe(0)
  })
})
