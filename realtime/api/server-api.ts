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
import {
  memoryReplayBudget,
  redisReplayBudget,
  type ReplayBudget,
} from '../streams/replay-budget.ts'
import { SYNC_REPLAY_BUDGET_BYTES, SYNC_REPLAY_WINDOW_MS } from '../constants.ts'
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
  const store = createRedisPublishStore(options.redis.client, stream)
  const guard = whileConnected(options.redis.isReady)
  return { accept: guard(store.accept), read: guard(store.read) }
}

/**
 * The replay budget of `rt:sync` (docs/protocol.md §9, v1.2): in Redis when
 * the node is clustered, so a user's syncs share one budget on every node; else memory.
 *
 * @param options - as {@link createPublishStore}'s
 */
export function createReplayBudget(options: {
  redis?: { client: ScriptClient; isReady: () => boolean } | undefined
  settings?: ServerApiSettings | undefined
  now: () => number
}): ReplayBudget {
  const limits = {
    maxBytes: options.settings?.syncReplay?.maxBytes ?? SYNC_REPLAY_BUDGET_BYTES,
    windowMs: options.settings?.syncReplay?.windowMs ?? SYNC_REPLAY_WINDOW_MS,
  }
  if (!options.redis) return memoryReplayBudget(limits, options.now)
  const budget = redisReplayBudget(options.redis.client, limits)
  const guard = whileConnected(options.redis.isReady)
  return { wait: guard(budget.wait), spend: guard(budget.spend) }
}

/** node-redis queues commands while disconnected: answer `unavailable` at once instead of hanging. */
function whileConnected(isReady: () => boolean) {
  return <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) => {
      if (!isReady()) return Promise.reject(new AppError('unavailable', 'redis disconnected'))
      return fn(...args)
    }
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
