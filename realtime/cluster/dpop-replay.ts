import { DPOP_JTI_TTL_SECONDS } from '../../shared/constants.ts'
import type { DpopReplayCache } from '../../shared/dpop/index.ts'
import { AppError } from '../../shared/errors.ts'
import { DPOP_JTI_REDIS_PREFIX, DPOP_REPLAY_REDIS_TIMEOUT_MS } from '../constants.ts'
import type { RedisCluster } from './redis-cluster.ts'

/** Options of {@link createRedisReplayCache}. */
export interface RedisReplayCacheOptions {
  /** Key prefix. @default 'edgegate:dpop:jti:' */
  prefix?: string
  /** How long a `jti` is held, seconds. @default 300 */
  ttlSeconds?: number
  /** Longest wait for Redis, ms. @default 1000 */
  timeoutMs?: number
}

/**
 * The cluster-wide {@link DpopReplayCache} (docs/protocol.md §15): one
 * `SET <prefix><jti> 1 NX EX 300` per proof, so a proof accepted on one node
 * is a replay on every other. Redis expires the keys; how many it holds is
 * bounded by the handshake rate (the connection limits) times five minutes.
 *
 * While Redis is away, or slower than `timeoutMs`, a claim throws
 * `unavailable` (retryable) rather than fall back to this node's memory:
 * a proof accepted then could be replayed on another node.
 *
 * @param cluster - the node's Redis link
 * @param options - {@link RedisReplayCacheOptions}
 * @example
 * ```ts
 * const replay = createRedisReplayCache(cluster)
 * if (!(await replay.claim(jti))) throw new AppError('dpop_invalid', 'proof replayed')
 * ```
 */
export function createRedisReplayCache(
  cluster: Pick<RedisCluster, 'client' | 'connected'>,
  options: RedisReplayCacheOptions = {},
): DpopReplayCache {
  const prefix = options.prefix ?? DPOP_JTI_REDIS_PREFIX
  const ttl = options.ttlSeconds ?? DPOP_JTI_TTL_SECONDS
  const timeoutMs = options.timeoutMs ?? DPOP_REPLAY_REDIS_TIMEOUT_MS
  return {
    async claim(jti) {
      if (!cluster.connected()) throw new AppError('unavailable', 'DPoP replay cache: Redis away')
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new AppError('unavailable', 'DPoP replay cache: Redis too slow')),
          timeoutMs,
        )
      })
      try {
        const set = cluster.client.set(`${prefix}${jti}`, '1', { NX: true, EX: ttl })
        return (await Promise.race([set, timeout])) === 'OK'
      } catch (err) {
        if (err instanceof AppError) throw err
        throw new AppError('unavailable', 'DPoP replay cache: Redis failed', { cause: err })
      } finally {
        clearTimeout(timer)
      }
    },
  }
}
