import type { PresenceReads } from '../presence/reads.ts'
import type { Hono } from 'hono'
import type { Registry } from 'prom-client'
import { AppError } from '../../shared/errors.ts'
import type { Logger } from '../log.ts'
import type { Sessions } from '../session/sessions.ts'
import type { RealtimeIo } from '../types.ts'
import { MemoryPublishStore } from '../streams/memory-store.ts'
import { createRedisPublishStore, type ScriptClient } from '../streams/redis-store.ts'
import type { PublishStore } from '../streams/types.ts'
import { ClientRateLimiter } from './client-rate.ts'
import { createDisconnect } from './disconnect.ts'
import { createApiMetrics } from './metrics.ts'
import { createPublish } from './publish.ts'
import { createServerApi, type ServerApiOptions } from './routes.ts'
import { createServiceAuth, type ServiceAuthOptions } from './service-auth.ts'

/** The server API's and the user streams' settings (docs/protocol.md §8, §9). */
export interface ServerApiSettings {
  /** Requests per client. @default { perSecond: 100, burst: 200 } */
  rate?: { perSecond: number; burst: number }
  /** `USER_STREAM_MAX` and `USER_STREAM_TTL`. @default { maxEntries: 100, ttlSeconds: 86400 } */
  userStream?: { maxEntries?: number; ttlSeconds?: number }
  /** The per-user replay budget of `rt:sync` (docs/protocol.md §9). @default { maxBytes: 1 MiB, windowMs: 10_000 } */
  syncReplay?: { maxBytes?: number; windowMs?: number }
}

/**
 * Where publishes are recorded: Redis when the node is clustered, so every
 * node sees one idempotency window and one stream per user; else bounded memory.
 *
 * @param options - `redis`: the cluster's client and whether it is connected; `now`: ms clock
 */
export function createPublishStore(options: {
  redis?: { client: ScriptClient; isReady: () => boolean }
  settings?: ServerApiSettings
  now: () => number
}): PublishStore {
  const stream = { ...options.settings?.userStream, now: options.now }
  if (!options.redis) return new MemoryPublishStore(stream)
  const { client, isReady } = options.redis
  const store = createRedisPublishStore(client, stream)
  // node-redis queues commands while disconnected; answer 503 at once instead of hanging.
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) => {
      if (!isReady()) return Promise.reject(new AppError('unavailable', 'redis disconnected'))
      return fn(...args)
    }
  return { accept: guard(store.accept), read: guard(store.read) }
}

/** What {@link createServerApiRoutes} wires together. */
export interface ServerApiDeps extends ServiceAuthOptions {
  io: RealtimeIo
  sessions: Sessions
  store: PublishStore
  logger: Logger
  registry: Registry
  clustered: boolean
  settings?: ServerApiSettings
  /** Presence reads (docs/protocol.md §8); without them the two GET routes are absent. */
  presence?: PresenceReads
  /** `GET /events` (docs/protocol.md §16); without it the route is absent. */
  events?: ServerApiOptions['events']
}

/**
 * The server API (docs/protocol.md §8) wired to this node: service-token
 * auth on the edge's keys, per-client rate, publish through the adapter,
 * disconnect fanned out to every node, and its metrics on `registry`.
 * Mount the result under `SERVER_API_PREFIX`.
 *
 * @param deps - {@link ServerApiDeps}
 */
export function createServerApiRoutes(deps: ServerApiDeps): Hono {
  const rate = new ClientRateLimiter({ ...deps.settings?.rate, now: deps.now })
  const memory = deps.store instanceof MemoryPublishStore ? deps.store : undefined
  const metrics = createApiMetrics(deps.registry, {
    rateBuckets: () => rate.size,
    ...(memory && {
      streamEntries: () => memory.streams.entriesHeld,
      streams: () => memory.streams.streamsHeld,
      idempotencyKeys: () => memory.keysHeld,
    }),
  })
  return createServerApi({
    authenticate: createServiceAuth(deps),
    rate,
    publish: createPublish({
      io: deps.io,
      store: deps.store,
      now: deps.now,
      onRepeat: () => metrics.repeats.inc(),
    }),
    disconnect: createDisconnect({
      io: deps.io,
      sessions: deps.sessions,
      clustered: deps.clustered,
      logger: deps.logger,
    }),
    ...(deps.presence && { presence: deps.presence }),
    ...(deps.events && { events: deps.events }),
    metrics,
    logger: deps.logger,
  })
}
