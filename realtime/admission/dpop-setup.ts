import { Counter } from 'prom-client'
import { createMemoryReplayCache, type DpopReplayCache } from '../../shared/dpop/index.ts'
import { createDpopNonces } from '../auth/dpop-nonce.ts'
import type { RedisCluster } from '../cluster/redis-cluster.ts'
import { createRedisReplayCache } from '../cluster/dpop-replay.ts'
import { DPOP_REPLAY_CACHE_MAX_ENTRIES } from '../constants.ts'
import type { Logger } from '../log.ts'
import { sizeGauge, type Metrics } from '../metrics.ts'
import type { RealtimeServerOptions } from '../server-options.ts'
import { createDpopCheck, type DpopCheck } from './dpop.ts'

/** What {@link createServerDpop} needs besides the server's options. */
export interface ServerDpopParts {
  socketIoPath: string
  trustProxy: boolean
  cluster: RedisCluster | undefined
  metrics: Metrics
  logger: Logger
  now: () => number
}

/**
 * A realtime server's DPoP checks (docs/protocol.md §15): the replay cache
 * (Redis `SET NX EX` when clustered, else bounded memory), nonces when
 * configured, and the metrics: `realtime_dpop_proofs_total` by context,
 * outcome and failed check, `realtime_dpop_replay_cache_entries` and
 * `realtime_dpop_replay_cache_full_total` for the memory cache. A refused
 * proof is logged at `info` with its context, code and failed check, never
 * the proof or the token.
 *
 * @param options - `publicUrl` and `dpop` of the server's options
 * @param parts - {@link ServerDpopParts}
 * @example
 * ```ts
 * const dpop = createServerDpop(options, { socketIoPath, trustProxy, cluster, metrics, logger, now })
 * ```
 */
export function createServerDpop(
  options: Pick<RealtimeServerOptions, 'publicUrl' | 'dpop'>,
  parts: ServerDpopParts,
): DpopCheck {
  const { cluster, metrics, logger, now } = parts
  let replay: DpopReplayCache
  if (cluster) {
    replay = createRedisReplayCache(cluster)
  } else {
    const memory = createMemoryReplayCache({
      maxEntries: options.dpop?.replayCacheMaxEntries ?? DPOP_REPLAY_CACHE_MAX_ENTRIES,
      now,
    })
    sizeGauge(
      metrics.registry,
      'realtime_dpop_replay_cache_entries',
      "DPoP proof jti's held by this node's replay cache (bounded by REALTIME_DPOP_REPLAY_MAX)",
      () => memory.size,
    )
    sizeGauge(
      metrics.registry,
      'realtime_dpop_replay_cache_full_total',
      'DPoP proofs refused unavailable because the replay cache was full of live entries',
      () => memory.refusedFull,
    )
    replay = memory
  }
  const proofs = new Counter({
    name: 'realtime_dpop_proofs_total',
    help: 'DPoP proofs checked, by context (handshake, in_band), outcome (ok or the refusal code) and the failed check',
    labelNames: ['context', 'outcome', 'reason'],
    registers: [metrics.registry],
  })
  const secret = options.dpop?.nonceSecret
  return createDpopCheck({
    socketIoPath: parts.socketIoPath,
    ...(options.publicUrl !== undefined && { publicUrl: options.publicUrl }),
    trustProxy: parts.trustProxy,
    replay,
    ...(secret !== undefined && {
      nonces: createDpopNonces({
        secret,
        now,
        ...(options.dpop?.nonceWindowSeconds !== undefined && {
          windowSeconds: options.dpop.nonceWindowSeconds,
        }),
      }),
    }),
    now,
    onOutcome(context, outcome, reason) {
      proofs.inc({ context, outcome, reason })
      // What a stolen token looks like (docs/dpop.md): a bound token without its key's proof.
      if (outcome === 'dpop_required' || outcome === 'dpop_invalid')
        logger('info', 'dpop proof refused', { context, code: outcome, reason })
    },
  })
}
