/**
 * Presence across three realtime nodes (separate processes), one real edge
 * and our own Redis (docs/protocol.md §10): members on every node are
 * listed everywhere, a node killed with SIGKILL takes its members out within
 * the grace period plus 15 s, and a Redis restart heals with nobody left
 * listed who has gone.
 */
import { decodeJwt } from 'jose'
import type { Socket } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { cleanup as closeSockets, connect, envelope } from '../realtime/support.ts'
import { record, request, until } from '../realtime/waits.ts'
import { login } from '../support/edge.ts'
import { cleanup, startCluster, startRedis, type Cluster, type TestRedis } from './support.ts'

/** The contract's default grace (docs/protocol.md §10), which the dead-node bound is stated against. */
const GRACE_MS = 5000
/** §10: a dead node's members leave within the grace period plus 15 s. */
const DEAD_NODE_BOUND_MS = GRACE_MS + 15_000
afterEach(closeSockets)

describe('presence on a three-node cluster', () => {
  let redis: TestRedis
  let cluster: Cluster
  beforeAll(async () => {
    redis = await startRedis()
    cluster = await startCluster(3, {
      redisUrl: redis.url,
      env: { PRESENCE_GRACE_MS: String(GRACE_MS) },
    })
  }, 180_000)
  afterAll(cleanup, 60_000)

  /** Log `username` in, connect to node `i` and join the lobby. */
  const join = async (username: string, i: number): Promise<{ socket: Socket; sub: string }> => {
    const { access_token } = await login(cluster.edge.url, username)
    const socket = await connect(cluster.nodes[i]!.url, { auth: { token: access_token } })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    return { socket, sub: decodeJwt(access_token).sub! }
  }
  /** The lobby's subs as `socket` is told, retried while Redis is away (`unavailable`). */
  const listed = async (socket: Socket): Promise<string[] | undefined> => {
    const ack = await request(socket, 'rt:presence', envelope({ room: 'lobby' }))
    return ack.ok ? ack.data.members.map((m: { sub: string }) => m.sub).sort() : undefined
  }
  const eventually = async (
    socket: Socket,
    check: (subs: string[]) => boolean,
    what: string,
    timeoutMs = 30_000,
  ) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const subs = await listed(socket).catch(() => undefined)
      if (subs && check(subs)) return subs
      if (Date.now() > deadline)
        throw new Error(`${what}: not within ${timeoutMs} ms (last ${JSON.stringify(subs)})`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const entries = async (i: number): Promise<number> => {
    const text = await (await fetch(`${cluster.nodes[i]!.url}/metrics`)).text()
    return Number(/^realtime_presence_entries (\d+)/m.exec(text)?.[1] ?? NaN)
  }
  const lefts = (batches: { left: { sub: string }[] }[]) =>
    batches.flatMap((b) => b.left.map((l) => l.sub))
  const joins = (batches: { joined: { sub: string }[] }[]) =>
    batches.flatMap((b) => b.joined.map((j) => j.sub))

  it('lists the members of every node on every node, and announces each join once', async () => {
    const alice = await join('alice', 0)
    const batches = record(alice.socket, 'rt:presence')
    const bob = await join('bob', 1)
    const carol = await join('carol', 2)
    const everyone = [alice.sub, bob.sub, carol.sub].sort()
    for (const s of [alice, bob, carol])
      await eventually(s.socket, (subs) => subs.join() === everyone.join(), 'all three listed')
    await until(() => joins(batches).includes(bob.sub) && joins(batches).includes(carol.sub), {
      what: 'joins announced',
      timeoutMs: 10_000,
    })
    expect(joins(batches).filter((sub) => sub === bob.sub)).toHaveLength(1)
    expect(joins(batches).filter((sub) => sub === carol.sub)).toHaveLength(1)
  })

  it('takes the members of a node killed with SIGKILL out within the grace period plus 15 s', async () => {
    const alice = await join('alice', 0)
    const carol = await join('carol', 2)
    await eventually(alice.socket, (subs) => subs.includes(carol.sub), 'carol listed')
    const batches = record(alice.socket, 'rt:presence')
    const killedAt = Date.now()
    await cluster.nodes[2]!.kill()
    await until(() => lefts(batches).includes(carol.sub), {
      what: 'carol left',
      timeoutMs: DEAD_NODE_BOUND_MS + 10_000,
    })
    const elapsed = Date.now() - killedAt
    console.log(
      `presence: a SIGKILLed node's member left after ${elapsed} ms (bound ${DEAD_NODE_BOUND_MS} ms)`,
    )
    expect(elapsed).toBeLessThan(DEAD_NODE_BOUND_MS)
    expect(await listed(alice.socket)).not.toContain(carol.sub)
  }, 60_000)

  it('recovers from a Redis restart: who left while it was down is announced as left, and new joins are seen', async () => {
    expect(redis.owned).toBe(true)
    const alice = await join('alice', 0)
    const bob = await join('bob', 1)
    const carol = await join('carol', 1)
    await eventually(
      alice.socket,
      (subs) => subs.includes(bob.sub) && subs.includes(carol.sub),
      'bob and carol listed',
    )
    const batches = record(alice.socket, 'rt:presence')
    await redis.stop()
    const before = await entries(1)
    carol.socket.close()
    // Node 1 counts carol out after the grace, with Redis still down.
    const deadline = Date.now() + 30_000
    while ((await entries(1)) >= before && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200))
    expect(await entries(1)).toBeLessThan(before)
    await redis.restart()
    await until(() => lefts(batches).includes(carol.sub), {
      what: "carol's leave after the restart",
      timeoutMs: 30_000,
    })
    const subs = await eventually(
      alice.socket,
      (s) => s.includes(alice.sub) && s.includes(bob.sub),
      'alice and bob listed again',
    )
    expect(subs).not.toContain(carol.sub)
    const back = await join('carol', 0)
    await until(() => joins(batches).includes(back.sub), { what: 'carol back', timeoutMs: 10_000 })
    await eventually(bob.socket, (s) => s.includes(back.sub), 'carol listed on node 1')
  }, 120_000)
})
