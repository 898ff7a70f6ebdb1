import { randomUUID } from 'node:crypto'
import {
  ONLINE_ROOM,
  PRESENCE_REDIS_PREFIX,
  PRESENCE_FLUSH_ROOMS_PER_CALL,
  PRESENCE_HEARTBEAT_MS,
  PRESENCE_NODE_TTL_MS,
  PRESENCE_REPLAY_WINDOW_MS,
} from '../constants.ts'
import { toBatch } from './memory-store.ts'
import type { StoreContext } from './presence.ts'
import { LIST, PUT, REMOVE, TAKE } from './redis-scripts.ts'
import { luaScript, type RedisClient } from './redis-eval.ts'
import { startHeartbeat } from './redis-heartbeat.ts'
import type { PresenceBatch, PresenceMember, PresenceStore } from './types.ts'

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  client: RedisClient
  /** Register a listener for each (re)connection to Redis. */
  onConnect(listener: () => void): void
  /** Key prefix. @default PRESENCE_REDIS_PREFIX */
  prefix?: string
  /** This node's id. @default a random UUID (a restarted node is a new node) */
  nodeId?: string
  /** @default PRESENCE_HEARTBEAT_MS */
  heartbeatMs?: number
  /** @default PRESENCE_NODE_TTL_MS */
  nodeTtlMs?: number
  /** How long the heartbeat outlives a closed node, so its users have their grace elsewhere, ms. */
  closeTtlMs?: number
}

const runPut = luaScript(PUT)
const runRemove = luaScript(REMOVE)
const runTake = luaScript(TAKE)
const runList = luaScript(LIST)

/**
 * Presence shared by the cluster through Redis (docs/presence.md). A join or
 * leave is one script call on the node where it happens; a room's batch is
 * taken by one node and emitted once through the adapter. While Redis is
 * away the node keeps counting locally; on each reconnection it registers
 * its entries again (idempotent) and replays the removals Redis may have
 * missed or lost, so nobody stays listed after a Redis restart. Dead nodes
 * are swept by {@link startHeartbeat}.
 *
 * @param options - {@link RedisStoreOptions}
 * @returns a store factory for `createPresence`
 */
export function createRedisStore(
  options: RedisStoreOptions,
): (context: StoreContext) => PresenceStore {
  return (context) => {
    const { client } = options
    const prefix = options.prefix ?? PRESENCE_REDIS_PREFIX
    const node = options.nodeId ?? randomUUID()
    const base = (): (string | number)[] => [prefix, ONLINE_ROOM, context.batchMs]
    /** Removals to replay after a reconnection: not yet applied, or applied within the replay window. */
    const removals = new Map<string, { room: string; sub: string; at: number; applied: boolean }>()
    const keyOf = (room: string, sub: string) => `${room.length}:${room}${sub}`
    const fail = (what: string) => (err: Error) =>
      context.logger('warn', `presence ${what} failed`, { error: err.message })

    const put = async (
      room: string,
      sub: string,
      name: string,
      connections: number,
    ): Promise<boolean> => {
      removals.delete(keyOf(room, sub))
      if (!client.isReady) return true
      const listed = await runPut(client, [
        ...base(),
        node,
        room,
        sub,
        name,
        connections,
        context.maxMembersPerRoom,
      ])
      return listed === 1
    }
    const remove = async (room: string, sub: string, replay: boolean): Promise<void> => {
      const record = { room, sub, at: context.now(), applied: false }
      const key = keyOf(room, sub)
      removals.delete(key)
      removals.set(key, record)
      // Oldest first: forget applied removals past the window as new ones come.
      for (const [k, r] of removals) {
        if (!r.applied || r.at >= record.at - PRESENCE_REPLAY_WINDOW_MS) break
        removals.delete(k)
      }
      if (!client.isReady) return
      await runRemove(client, [...base(), node, room, sub, replay ? '1' : '0'])
      record.applied = true
      record.at = context.now()
    }
    const resync = () => {
      for (const e of context.local.entries())
        put(e.room, e.sub, e.name, e.connections).catch(fail('re-register'))
      const cutoff = context.now() - PRESENCE_REPLAY_WINDOW_MS
      // A snapshot: each replay moves its record to the end of the map.
      for (const [key, r] of [...removals]) {
        if (r.applied && r.at < cutoff) removals.delete(key)
        else remove(r.room, r.sub, true).catch(fail('replay'))
      }
    }
    const heartbeat = startHeartbeat({
      client,
      prefix,
      node,
      batchMs: context.batchMs,
      heartbeatMs: options.heartbeatMs ?? PRESENCE_HEARTBEAT_MS,
      nodeTtlMs: options.nodeTtlMs ?? PRESENCE_NODE_TTL_MS,
      now: context.now,
      onSwept: (n) => context.metrics.swept.inc(n),
      onLost: resync,
      logger: context.logger,
    })
    // Sockets may have joined before Redis was reachable, or while it was away: register them on every connection.
    options.onConnect(() => {
      heartbeat.reconnected()
      resync()
    })

    return {
      put,
      remove: (room, sub) => remove(room, sub, false),
      async list(room, after, limit) {
        const [more, flat] = (await runList(client, [...base(), room, after ?? '', limit])) as [
          number,
          string[],
        ]
        const members: PresenceMember[] = []
        for (let i = 0; i < flat.length; i += 2) members.push(parseMember(flat[i]!, flat[i + 1]!))
        return { members, more: more === 1 }
      },
      async member(room, sub) {
        const value = await client.hGet(`${prefix}h:${room}`, sub)
        return value ? parseMember(sub, value) : undefined
      },
      async takeDue() {
        if (!client.isReady) return []
        const out: PresenceBatch[] = []
        for (;;) {
          const flat = (await runTake(client, [...base(), PRESENCE_FLUSH_ROOMS_PER_CALL])) as (
            string | string[]
          )[]
          for (let i = 0; i < flat.length; i += 2) {
            const room = flat[i] as string
            const fields = flat[i + 1] as string[]
            const changes: [string, { joined: true; name: string } | { joined: false }][] = []
            for (let j = 0; j < fields.length; j += 2) {
              const change = fields[j + 1]!
              changes.push([
                fields[j]!,
                change[0] === 'j' ? { joined: true, name: change.slice(1) } : { joined: false },
              ])
            }
            if (changes.length > 0) out.push(toBatch(room, changes))
          }
          if (flat.length / 2 < PRESENCE_FLUSH_ROOMS_PER_CALL) return out
        }
      },
      available: () => client.isReady,
      pendingChanges: () => 0,
      async close() {
        await heartbeat.stop(options.closeTtlMs)
      },
    }
  }
}

/** `<nodes>:<connections>:<name>` as a member. */
function parseMember(sub: string, value: string): PresenceMember {
  const match = /^(\d+):(\d+):(.*)$/s.exec(value)
  return { sub, name: match?.[3] ?? '', connections: Number(match?.[2] ?? 0) }
}
