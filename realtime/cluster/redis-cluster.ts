import { createAdapter } from '@socket.io/redis-streams-adapter'
import { createClient } from 'redis'
import type { RevocationEvent, RevocationKind } from '../../shared/claims.ts'
import { ADAPTER_REDIS_STREAM, REVOKED_REDIS_PREFIX } from '../constants.ts'
import type { Logger } from '../log.ts'
import { MAX_BUFFERED_PUBLISHES, PublishBuffer } from './publish-buffer.ts'
import { REDIS_PING_TIMEOUT_MS, RedisHealth } from './redis-health.ts'

/** Longest wait between reconnection attempts, ms: a Redis back after a short outage is used within a second. */
const REDIS_RECONNECT_MAX_DELAY_MS = 1000

/** Options of {@link createRedisCluster}. */
export interface RedisClusterOptions {
  /** Most cross-node publishes held while Redis is away. @default {@link MAX_BUFFERED_PUBLISHES} */
  maxBufferedPublishes?: number
  /** Called with how many held publishes were dropped (oldest first) to stay within the bound. */
  onPublishesDropped?: (count: number) => void
}

/** socket.io-adapter's ClusterAdapter#addOffsetIfNecessary. */
type OffsetHook = (packet: unknown, opts: unknown, offset: string) => void

/** A node's link to the cluster through Redis. */
export interface RedisCluster {
  /** The node's Redis client, for other shared state (the server API's idempotency keys and user streams). */
  client: ReturnType<typeof createClient>
  /** The Socket.IO adapter factory (Redis Streams: broadcasts, disconnects, recovery across nodes). */
  adapter: ReturnType<typeof createAdapter>
  /** Whether Redis is connected and answering its pings in time. */
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
 * retried forever with backoff: a node whose Redis is down at start, lost
 * mid-run, or hung (pinged every second), keeps serving its own sockets
 * without waiting on Redis, `/readyz` reports it, cross-node publishes are
 * held in order (bounded, oldest dropped and counted) and written when Redis
 * answers again, and it rejoins by itself.
 *
 * @param url - `REDIS_URL`
 * @param logger - for connection changes
 * @param options - {@link RedisClusterOptions}
 */
export function createRedisCluster(
  url: string,
  logger: Logger,
  options: RedisClusterOptions = {},
): RedisCluster {
  const client = createClient({
    url,
    socket: {
      reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, REDIS_RECONNECT_MAX_DELAY_MS),
      connectTimeout: 5000,
    },
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
  client
    .connect()
    .catch((err: Error) => logger('error', 'redis connect failed', { error: err.message }))
  const health = new RedisHealth({
    ping: () => client.ping(),
    connected: () => client.isReady,
    onUnavailable: () => logger('warn', 'redis not answering; cross-node publishes held locally'),
    onAvailable: () => {
      logger('info', 'redis answering again')
      for (const outbox of outboxes) outbox.flush()
    },
  })
  health.start()
  client.on('ready', () => {
    for (const outbox of outboxes) outbox.flush()
  })
  const outboxes = new Set<PublishBuffer<unknown>>()
  const streams = createAdapter(client, {
    streamName: ADAPTER_REDIS_STREAM,
    channelPrefix: ADAPTER_REDIS_STREAM,
    maxLen: 10_000,
  })
  // The adapter awaits each publish before delivering to local sockets, so a
  // hung Redis (or one queueing commands while away) would stall same-node
  // delivery too. Every publish instead goes through an ordered, bounded
  // outbox and resolves at once: local delivery never waits on Redis, and
  // what other nodes miss during a short outage reaches them when it returns.
  // A plain function: Socket.IO calls it with `new`.
  const adapter: RedisCluster['adapter'] = function bufferedAdapter(nsp) {
    const instance = streams(nsp)
    const publish = instance.doPublish.bind(instance)
    const outbox = new PublishBuffer<Parameters<typeof publish>[0]>({
      send: publish,
      available: () => health.available(),
      ...(options.maxBufferedPublishes !== undefined && {
        maxMessages: options.maxBufferedPublishes,
      }),
      onDropped: (count) => {
        options.onPublishesDropped?.(count)
        logger('warn', 'cross-node publishes dropped: redis away and buffer full', { count })
      },
    })
    outboxes.add(outbox as PublishBuffer<unknown>)
    const recovery = Boolean(nsp.server.opts.connectionStateRecovery)
    instance.doPublish = (message) => {
      const written = outbox.push(message)
      // Connection-state recovery appends the stream offset to what local
      // sockets receive, so it needs the XADD's answer: wait for it while
      // Redis answers, bounded by the ping timeout; otherwise deliver at once
      // without an offset.
      if (!recovery || !health.available()) return Promise.resolve('')
      return withinTimeout(written as Promise<string>, REDIS_PING_TIMEOUT_MS)
    }
    // An empty offset is "none": do not append it to what clients receive.
    // (A private method of socket.io-adapter's ClusterAdapter, 2.5.)
    const internals = instance as unknown as { addOffsetIfNecessary: OffsetHook }
    const addOffset = internals.addOffsetIfNecessary.bind(instance)
    internals.addOffsetIfNecessary = (packet, opts, offset) => {
      if (offset) addOffset(packet, opts, offset)
    }
    const close = instance.close.bind(instance)
    instance.close = () => {
      outboxes.delete(outbox as PublishBuffer<unknown>)
      return close()
    }
    return instance
  }

  return {
    client,
    adapter,
    connected: () => health.available(),
    async persist(event) {
      if (!client.isReady) return
      await client.set(
        `${REVOKED_REDIS_PREFIX}${event.kind}:${event.id}`,
        JSON.stringify({ at: event.at, until: event.until }),
        {
          expiration: { type: 'PXAT', value: event.until * 1000 },
        },
      )
    },
    async loadAll() {
      const out: Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>[] = []
      for await (const keys of client.scanIterator({
        MATCH: `${REVOKED_REDIS_PREFIX}*`,
        COUNT: 500,
      })) {
        if (keys.length === 0) continue
        const values = await client.mGet(keys)
        keys.forEach((key, i) => {
          const [stored, ...rest] = key.slice(REVOKED_REDIS_PREFIX.length).split(':')
          const value = values[i]
          if (!value) return
          const kind = storedKind(stored)
          if (kind === undefined) {
            // Another version's kind, or a stranger's key under our prefix: said, not applied.
            logger('warn', 'unknown revocation kind in redis skipped', { kind: String(stored) })
            return
          }
          try {
            const { at, until } = JSON.parse(value) as { at: number; until: number }
            if (typeof at === 'number' && typeof until === 'number')
              out.push({ kind, id: rest.join(':'), at, until })
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
      health.stop()
      try {
        client.destroy()
      } catch {
        // Already closed.
      }
    },
  }
}

/** `promise`'s value, or '' once `ms` have passed. */
function withinTimeout(promise: Promise<string>, ms: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<string>((resolve) => (timer = setTimeout(resolve, ms, '')))
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

/**
 * The revocation kind of a stored key, or undefined for one this version
 * does not know. Exhaustive over the contract's kinds: a kind added there
 * fails the build here until the reload handles it.
 */
function storedKind(stored: string | undefined): RevocationKind | undefined {
  const kind = stored as RevocationKind
  switch (kind) {
    case 'session':
    case 'user':
    case 'key':
    case 'client':
      return kind
    default: {
      // `never` while every kind has a case; at run time another version's string.
      const unknown: never = kind
      void unknown
      return undefined
    }
  }
}
