import { createAdapter } from '@socket.io/redis-streams-adapter'
import { createClient } from 'redis'
import type { RevocationEvent } from '../../shared/claims.ts'
import type { Logger } from '../log.ts'

/** Key prefix of the shared revocation set. */
const REVOKED_PREFIX = 'edgegate:revoked:'

/** A node's link to the cluster through Redis. */
export interface RedisCluster {
  /** The node's Redis client, for other shared state (the server API's idempotency keys and user streams). */
  client: ReturnType<typeof createClient>
  /** The Socket.IO adapter factory (Redis Streams: broadcasts, disconnects, recovery across nodes). */
  adapter: ReturnType<typeof createAdapter>
  /** Whether Redis is connected. */
  connected(): boolean
  /** Store an event in the shared revocation set, expiring at its `until`. */
  persist(event: Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>): Promise<void>
  /** Every event in the shared set (on start and after each reconnect). */
  loadAll(): Promise<Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>[]>
  /** Called after each (re)connection. */
  onConnect(listener: () => void): void
  close(): Promise<void>
}

/**
 * Connect a node to Redis. The connection is made in the background and
 * retried forever with backoff: a node whose Redis is down at start, or
 * lost mid-run, keeps serving its own sockets (broadcasts reach local
 * sockets only and are not queued for later), `/readyz` reports it, and it
 * rejoins by itself.
 *
 * @param url - `REDIS_URL`
 * @param logger - for connection changes
 */
export function createRedisCluster(url: string, logger: Logger): RedisCluster {
  const client = createClient({
    url,
    socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5000), connectTimeout: 5000 },
  })
  const listeners: (() => void)[] = []
  let lastError = ''
  client.on('error', (err: Error) => {
    // Logged once per distinct error, not once per retry.
    if (err.message !== lastError) logger('warn', 'redis error', { error: err.message })
    lastError = err.message
  })
  client.on('ready', () => {
    lastError = ''
    logger('info', 'redis connected')
    for (const listener of listeners) listener()
  })
  client.connect().catch((err: Error) => logger('error', 'redis connect failed', { error: err.message }))
  const streams = createAdapter(client, { streamName: 'edgegate:socket.io', channelPrefix: 'edgegate:socket.io', maxLen: 10_000 })
  // The client queues commands while Redis is away, and a broadcast awaits
  // its publish before delivering to local sockets: local rooms would stall
  // until Redis returned, then replay the backlog to every node. Failing the
  // publish at once makes the adapter deliver locally only (degraded mode).
  // A plain function: Socket.IO calls it with `new`.
  const adapter: RedisCluster['adapter'] = function degradableAdapter(nsp) {
    const instance = streams(nsp)
    const publish = instance.doPublish.bind(instance)
    instance.doPublish = (message) => (client.isReady ? publish(message) : Promise.reject(new Error('redis not connected')))
    return instance
  }

  return {
    client,
    adapter,
    connected: () => client.isReady,
    async persist(event) {
      if (!client.isReady) return
      await client.set(`${REVOKED_PREFIX}${event.kind}:${event.id}`, JSON.stringify({ at: event.at, until: event.until }), {
        expiration: { type: 'PXAT', value: event.until * 1000 },
      })
    },
    async loadAll() {
      const out: Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>[] = []
      for await (const keys of client.scanIterator({ MATCH: `${REVOKED_PREFIX}*`, COUNT: 500 })) {
        if (keys.length === 0) continue
        const values = await client.mGet(keys)
        keys.forEach((key, i) => {
          const [kind, ...rest] = key.slice(REVOKED_PREFIX.length).split(':')
          const value = values[i]
          if (!value || (kind !== 'session' && kind !== 'user' && kind !== 'key')) return
          try {
            const { at, until } = JSON.parse(value) as { at: number; until: number }
            if (typeof at === 'number' && typeof until === 'number') out.push({ kind, id: rest.join(':'), at, until })
          } catch {
            // A foreign or corrupt value: skip it.
          }
        })
      }
      return out
    },
    onConnect(listener) {
      listeners.push(listener)
    },
    async close() {
      try {
        client.destroy()
      } catch {
        // Already closed.
      }
    },
  }
}
