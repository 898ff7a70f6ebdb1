/**
 * The cluster's lifecycle log (docs/protocol.md §16) on a real Redis:
 * presence's scripts record each transition once across simulated nodes,
 * a dead node's sweep records its users' offline once, revocations applied
 * on several nodes are recorded once, and reads page in offset order with
 * `gap` once retention passed `after`.
 */
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ONLINE_ROOM } from '../../../realtime/constants.ts'
import { createRedisLog } from '../../../realtime/lifecycle/redis-log.ts'
import { silentLogger } from '../../../realtime/log.ts'
import { createPresenceMetrics } from '../../../realtime/presence/metrics.ts'
import { luaScript } from '../../../realtime/presence/redis-eval.ts'
import { SWEEP } from '../../../realtime/presence/redis-scripts.ts'
import { createRedisStore } from '../../../realtime/presence/redis-store.ts'
import type { PresenceStore } from '../../../realtime/presence/types.ts'
import { cleanup as stopRedis, connectRedis, type TestRedisClient } from '../../cluster/support.ts'

let client: TestRedisClient
const opened: { close(): unknown }[] = []
beforeAll(async () => {
  ;({ client } = await connectRedis())
}, 30_000)
afterAll(async () => {
  for (const o of opened) await o.close()
  await stopRedis()
})

function node(prefix: string, nodeId: string): PresenceStore {
  const store = createRedisStore({ client, onConnect: () => {}, prefix, nodeId })({
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
  })
  opened.push(store)
  return store
}
function log(prefix: string, now?: () => number) {
  const l = createRedisLog({ client, prefix, logger: silentLogger, ...(now && { now }) })
  opened.push(l)
  return l
}
const types = async (prefix: string) =>
  (await log(prefix).read(undefined, 1000)).events.map((e) => [e.type, Object.values(e.data)[0]])

describe('the Redis event log', () => {
  it('records one user.online and one user.offline across two nodes, whatever each node does in between', async () => {
    const prefix = `test:events:${randomUUID()}:`
    const a = node(prefix, 'node-a')
    const b = node(prefix, 'node-b')
    await a.put(ONLINE_ROOM, 'u1', 'alice', 1)
    await b.put(ONLINE_ROOM, 'u1', 'alice', 1) // a second tab elsewhere
    await a.put(ONLINE_ROOM, 'u1', 'alice', 2)
    await a.put(ONLINE_ROOM, 'u1', 'alice', 0) // grace on node a
    await a.remove(ONLINE_ROOM, 'u1')
    expect(await types(prefix)).toEqual([['user.online', 'u1']])
    await b.remove(ONLINE_ROOM, 'u1')
    expect(await types(prefix)).toEqual([
      ['user.online', 'u1'],
      ['user.offline', 'u1'],
    ])
  })

  it('records room.occupied on a room’s first member and room.vacated on its last, once', async () => {
    const prefix = `test:events:${randomUUID()}:`
    const a = node(prefix, 'node-a')
    const b = node(prefix, 'node-b')
    await a.put('lobby', 'u1', 'alice', 1)
    await b.put('lobby', 'u2', 'bob', 1)
    await b.put('lobby', 'u1', 'alice', 1)
    await a.remove('lobby', 'u1')
    await b.remove('lobby', 'u1')
    await b.remove('lobby', 'u2')
    await b.remove('lobby', 'u2') // a repeat changes nothing
    expect(await types(prefix)).toEqual([
      ['room.occupied', 'lobby'],
      ['room.vacated', 'lobby'],
    ])
  })

  it('records the offline of a dead node’s users once, however many nodes sweep it', async () => {
    const prefix = `test:events:${randomUUID()}:`
    const dead = node(prefix, 'node-dead')
    await dead.put(ONLINE_ROOM, 'u9', 'zoe', 1)
    await dead.put('lobby', 'u9', 'zoe', 1)
    await dead.close() // its heartbeat is gone, its entries stay: as after kill -9
    const sweep = luaScript(SWEEP)
    for (let i = 0; i < 3; i++) await sweep(client, [prefix, ONLINE_ROOM, 0, 'node-dead', 500])
    expect((await types(prefix)).sort()).toEqual(
      [
        ['user.online', 'u9'],
        ['room.occupied', 'lobby'],
        ['user.offline', 'u9'],
        ['room.vacated', 'lobby'],
      ].sort(),
    )
  })

  it('records a revocation applied on several nodes once', async () => {
    const prefix = `test:events:${randomUUID()}:`
    const event = { kind: 'session' as const, id: 's-1', at: 100, until: 200 }
    await Promise.all([log(prefix).revoked(event), log(prefix).revoked(event)])
    await log(prefix).revoked(event)
    await log(prefix).revoked({ ...event, kind: 'user', id: 'u1' })
    const { events } = await log(prefix).read(undefined, 10)
    expect(events.map((e) => e.data)).toEqual([
      { kind: 'session', id: 's-1' },
      { kind: 'user', id: 'u1' },
    ])
    expect(await log(prefix).counts()).toEqual({ 'session.revoked': 2 })
  })

  it('pages in offset order with next, and next is after itself on an empty page', async () => {
    const prefix = `test:events:${randomUUID()}:`
    const l = log(prefix)
    for (let i = 0; i < 5; i++) await l.revoked({ kind: 'session', id: `s${i}`, at: 1, until: 2 })
    const first = await l.read(undefined, 2)
    expect(first.gap).toBe(false)
    expect(first.events.map((e) => (e.data as { id: string }).id)).toEqual(['s0', 's1'])
    expect(first.next).toBe(first.events[1]!.offset)
    const rest = await l.read(first.next, 10)
    expect(rest.events.map((e) => (e.data as { id: string }).id)).toEqual(['s2', 's3', 's4'])
    const empty = await l.read(rest.next, 10)
    expect(empty).toEqual({ events: [], next: rest.next, gap: false })
    for (const e of [...first.events, ...rest.events]) {
      expect(e).toEqual({
        id: expect.stringMatching(/^evt_/),
        type: 'session.revoked',
        ts: expect.any(Number),
        offset: expect.any(String),
        data: expect.any(Object),
      })
    }
    expect(new Set([...first.events, ...rest.events].map((e) => e.id)).size).toBe(5)
  })

  it('answers gap, from the oldest kept event, once retention passed after', async () => {
    const prefix = `test:events:${randomUUID()}:`
    let clock = Date.now()
    const l = log(prefix, () => clock)
    await l.revoked({ kind: 'session', id: 'old', at: 1, until: 2 })
    const old = (await l.read(undefined, 10)).next
    await l.revoked({ kind: 'session', id: 'old2', at: 1, until: 2 })
    const oldTs = (await l.read(old, 10)).events.at(-1)!.ts
    // The next event must fall in a later millisecond of Redis's clock than the old ones.
    while (Date.now() <= oldTs + 1) await new Promise((r) => setTimeout(r, 1))
    await l.revoked({ kind: 'session', id: 'new', at: 1, until: 2 })
    const newTs = (await l.read(old, 10)).events.at(-1)!.ts
    // Seven days after the new event, by the log's clock: the old ones are past retention.
    clock = newTs + 7 * 86_400_000
    const page = await l.read(old, 10)
    expect(page.gap).toBe(true)
    expect(page.events.map((e) => (e.data as { id: string }).id)).toEqual(['new'])
    // "0" is the start of what is kept: gap, since something was trimmed.
    expect((await l.read('0', 10)).gap).toBe(true)
  })

  it('refuses an offset of the wrong form with envelope_invalid, and answers gap for one it never had', async () => {
    const prefix = `test:events:${randomUUID()}:`
    const l = log(prefix)
    await l.revoked({ kind: 'session', id: 's', at: 1, until: 2 })
    for (const bad of ['abc', '1-2-3', '-1', "1' or '1", 'x'.repeat(30)]) {
      await expect(l.read(bad, 10)).rejects.toMatchObject({ code: 'envelope_invalid' })
    }
    const page = await l.read('99999999999999-0', 10)
    expect(page.gap).toBe(true)
  })
})
