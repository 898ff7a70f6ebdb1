import type { Logger } from '../log.ts'
import { ONLINE_ROOM, PRESENCE_SWEEP_CHUNK } from '../constants.ts'
import { luaScript, type RedisClient } from './redis-eval.ts'
import { HEARTBEAT, SWEEP } from './redis-scripts.ts'

/** Options of {@link startHeartbeat}. */
export interface HeartbeatOptions {
  client: RedisClient
  prefix: string
  node: string
  batchMs: number
  heartbeatMs: number
  nodeTtlMs: number
  now: () => number
  /** Members of dead nodes this node announced as left. */
  onSwept: (members: number) => void
  /** This node's heartbeat had expired: it may have been swept and must register its entries again. */
  onLost: () => void
  logger: Logger
}

const runHeartbeat = luaScript(HEARTBEAT)
const runSweep = luaScript(SWEEP)

/**
 * Keep this node's heartbeat alive and sweep dead nodes (docs/presence.md,
 * "Cluster"). Every `heartbeatMs` the node refreshes a key that expires
 * after `nodeTtlMs`, then removes the entries of every listed node whose key
 * has expired, announcing their members' leaves. A node does not sweep
 * until it has been connected for `nodeTtlMs`, so after a Redis outage the
 * nodes that reconnect later are not taken for dead.
 *
 * @returns `reconnected()` to call on each Redis (re)connection, and
 *   `stop(ttlMs?)`: stop, leaving the heartbeat to expire after `ttlMs` (default now)
 */
export function startHeartbeat(o: HeartbeatOptions): {
  reconnected(): void
  stop(ttlMs?: number): Promise<void>
} {
  const base = [o.prefix, ONLINE_ROOM, o.batchMs]
  let connectedSince: number | undefined
  let registered = false
  let running: Promise<void> | undefined

  const beat = async () => {
    if (!o.client.isReady) {
      connectedSince = undefined
      return
    }
    connectedSince ??= o.now()
    const existed = await runHeartbeat(o.client, [...base, o.node, o.nodeTtlMs])
    // Expired while this node lived (a long pause, Redis away or restarted): other nodes may have swept it.
    if (existed === 0 && registered) o.onLost()
    registered = true
    if (o.now() - connectedSince < o.nodeTtlMs) return
    const nodes = await o.client.sMembers(`${o.prefix}nodes`)
    for (const other of nodes) {
      if (other === o.node) continue
      // Bounded work per beat; a large dead node is finished on the next beats.
      for (let round = 0; round < 20; round++) {
        const [remaining, left] = (await runSweep(o.client, [
          ...base,
          other,
          PRESENCE_SWEEP_CHUNK,
        ])) as [number, number]
        if (left > 0) o.onSwept(left)
        if (remaining <= 0) break
      }
    }
  }
  const tick = () => {
    running ??= beat()
      .catch((err: Error) => o.logger('warn', 'presence heartbeat failed', { error: err.message }))
      .finally(() => (running = undefined))
  }
  const timer = setInterval(tick, o.heartbeatMs)
  timer.unref()
  tick()

  return {
    reconnected() {
      connectedSince = o.now()
      tick()
    },
    async stop(ttlMs) {
      clearInterval(timer)
      await running
      if (!o.client.isReady) return
      const key = `${o.prefix}hb:${o.node}`
      await (ttlMs ? o.client.pExpire(key, Math.max(1, ttlMs)) : o.client.del(key)).catch(
        () => undefined,
      )
    },
  }
}
