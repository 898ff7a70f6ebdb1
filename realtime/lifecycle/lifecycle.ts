import { randomUUID } from 'node:crypto'
import type { Registry } from 'prom-client'
import { parseHttpUrl } from '../../shared/url.ts'
import { isSenderSecret } from '../../shared/webhooks/signature.ts'
import type { Logger } from '../log.ts'
import type { RedisClient } from '../presence/redis-eval.ts'
import type { Revocation } from '../revocations/apply.ts'
import { createMemoryLog } from './memory-log.ts'
import { createLifecycleMetrics } from './metrics.ts'
import { pullEvents } from './pull.ts'
import { createRedisLog } from './redis-log.ts'
import type { EventLog, EventPage, OnTransition } from './types.ts'
import { createDeliverer, type Deliverer, type DelivererOptions } from './webhooks/deliverer.ts'
import { endpointId, type WebhookEndpoint } from './webhooks/endpoints.ts'
import { memorySource } from './webhooks/memory-source.ts'
import { keepDeliveryGroups, redisSource } from './webhooks/redis-source.ts'

/** Settings of lifecycle events and webhooks (docs/protocol.md §16). */
export interface LifecycleSettings {
  /** `EVENTS_RETENTION`, seconds. @default DEFAULT_EVENTS_RETENTION_SECONDS (7 days) */
  retentionSeconds?: number
  /** `WEBHOOKS`: `{ url, secret, types? }` each (`parseWebhooks` checks the variable). @default [] */
  webhooks?: readonly Omit<WebhookEndpoint, 'id'>[]
  /**
   * `REALTIME_WEBHOOKS_DELIVER`: whether this node delivers webhooks. A node
   * with `false` records events and keeps the endpoints' consumer groups in
   * place, and never posts: another node of the cluster (one with `true`,
   * typically a node that takes no sockets) delivers them. Needs Redis.
   * @default true
   */
  deliver?: boolean
  /** Tuning of the deliverer (timeouts, bounds, schedule, clock); tests shorten them. */
  delivery?: Pick<
    DelivererOptions,
    | 'timeoutMs'
    | 'queueMax'
    | 'concurrency'
    | 'pollMs'
    | 'claimIntervalMs'
    | 'schedule'
    | 'fetch'
    | 'random'
  > & { claimIdleMs?: number; readBlockMs?: number }
  /** The presence key prefix the log lives under (clustered). @default PRESENCE_REDIS_PREFIX */
  redisPrefix?: string
}

/** A node's lifecycle events: the log, the pull reader, and the webhook deliverer (if this node delivers). */
export interface Lifecycle {
  log: EventLog
  /** For presence's memory store; undefined when clustered (the scripts record). */
  onTransition: OnTransition | undefined
  /** Record a §6 event applied (fire and forget; once per event cluster-wide). */
  revoked(event: Revocation): void
  /** The `GET /api/v1/events` reader. */
  pull(query: Record<string, string | undefined>): Promise<EventPage>
  deliverer: Deliverer | undefined
  close(): Promise<void>
}

/**
 * Build a node's lifecycle events (docs/protocol.md §16): the log in Redis
 * when clustered (presence's scripts append to it) or in memory alone, its
 * metrics, and, when `WEBHOOKS` lists endpoints and `deliver` is not
 * false, their deliverer.
 *
 * @param deps - the cluster's Redis client (if any), clock, logger and metrics registry
 * @param settings - {@link LifecycleSettings}
 * @example
 * ```ts
 * const lifecycle = createLifecycle({ redis: cluster?.client, now, logger, registry }, options.lifecycle)
 * ```
 */
export function createLifecycle(
  deps: { redis: RedisClient | undefined; now: () => number; logger: Logger; registry: Registry },
  settings: LifecycleSettings = {},
): Lifecycle {
  const { redis, now, logger } = deps
  const retention = settings.retentionSeconds !== undefined && {
    retentionSeconds: settings.retentionSeconds,
  }
  const endpoints = (settings.webhooks ?? []).map((e): WebhookEndpoint => {
    // A library caller's misuse; WEBHOOKS itself is checked by parseWebhooks with one line per problem.
    if (!parseHttpUrl(e.url)) throw new TypeError('createLifecycle: a webhook url is not http(s)')
    if (!isSenderSecret(e.secret)) {
      throw new TypeError('createLifecycle: a webhook secret is not whsec_ + base64 of ≥ 24 bytes')
    }
    return { ...e, id: endpointId(e.url) }
  })
  const memory = redis ? undefined : createMemoryLog({ ...retention, now })
  const clustered = redis
    ? createRedisLog({
        client: redis,
        ...retention,
        ...(settings.redisPrefix && { prefix: settings.redisPrefix }),
        now,
        logger,
      })
    : undefined
  const log: EventLog = (memory ?? clustered)!
  let deliverer: Deliverer | undefined
  const metrics = createLifecycleMetrics(deps.registry, {
    counts: () => log.counts(),
    queued: () => deliverer?.queued() ?? new Map(),
    oldest: () => deliverer?.oldest() ?? Promise.resolve(new Map()),
  })
  const deliver = settings.deliver ?? true
  if (!deliver && endpoints.length > 0 && !clustered) {
    throw new TypeError('createLifecycle: deliver: false needs Redis (another node delivers)')
  }
  // Not delivering: the groups are still made, so a delivering node started later misses nothing.
  const groups =
    !deliver && clustered ? keepDeliveryGroups(redis!, clustered.key, endpoints, logger) : undefined
  if (deliver && endpoints.length > 0) {
    const consumer = randomUUID()
    const { claimIdleMs, readBlockMs, ...delivery } = settings.delivery ?? {}
    deliverer = createDeliverer({
      endpoints,
      source: (endpoint) =>
        clustered
          ? redisSource(endpoint, {
              client: redis!,
              key: clustered.key,
              consumer,
              logger,
              ...(claimIdleMs !== undefined && { claimIdleMs }),
              ...(readBlockMs !== undefined && { blockMs: readBlockMs }),
            })
          : memorySource(memory!, endpoint, logger),
      metrics,
      logger,
      now,
      ...delivery,
    })
  }
  return {
    log,
    onTransition: memory?.transition,
    revoked(event) {
      log
        .revoked(event)
        .catch((err: Error) =>
          logger('warn', 'session.revoked not recorded', { kind: event.kind, error: err.message }),
        )
    },
    pull: pullEvents(log),
    deliverer,
    async close() {
      groups?.close()
      await deliverer?.close()
      log.close()
    },
  }
}
