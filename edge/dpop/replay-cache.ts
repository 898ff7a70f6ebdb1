import type { DpopReplayCache } from '../../shared/dpop/index.ts'
import { DPOP_JTI_TTL_SECONDS } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import { DPOP_REPLAY_MAX_ROWS_PER_SHARD, DPOP_REPLAY_SHARDS } from '../constants.ts'
import { dpopMac } from './server-key.ts'

/** Options of {@link durableReplayCache}. */
export interface DurableReplayCacheOptions {
  /** The DPoP server key: picks a `jti`'s shard, so clients cannot aim at one. */
  key: CryptoKey
  /** The request's clock, ms. */
  nowMs: number
  /** Shards. @default DPOP_REPLAY_SHARDS (16) */
  shards?: number
  /** Live rows per shard. @default DPOP_REPLAY_MAX_ROWS_PER_SHARD (50,000) */
  maxRowsPerShard?: number
}

/**
 * The edge's {@link DpopReplayCache}: `jti`s in the `DPOP_JTIS` Durable Objects,
 * one of {@link DPOP_REPLAY_SHARDS} chosen by HMAC(server key, jti). Sharding keeps
 * one object from carrying every proof of the deployment (one object runs one
 * request at a time); the keyed hash keeps a client from steering its proofs
 * onto one shard to fill it. A `jti` always lands on the same shard, so a replay
 * is always seen.
 *
 * @param namespace - the `DPOP_JTIS` binding
 * @param options - {@link DurableReplayCacheOptions}
 * @example
 * ```ts
 * const replay = durableReplayCache(c.env.DPOP_JTIS, { key, nowMs: c.get('now') })
 * if (!(await replay.claim(proof.jti))) throw new AppError('invalid_dpop_proof', 'proof replayed')
 * ```
 */
export function durableReplayCache(
  namespace: Env['DPOP_JTIS'],
  options: DurableReplayCacheOptions,
): DpopReplayCache {
  const shards = options.shards ?? DPOP_REPLAY_SHARDS
  const maxRows = options.maxRowsPerShard ?? DPOP_REPLAY_MAX_ROWS_PER_SHARD
  return {
    async claim(jti) {
      const mac = await dpopMac(options.key, `jti:${jti}`)
      const shard = (((mac[0] ?? 0) << 8) | (mac[1] ?? 0)) % shards
      const stub = namespace.get(namespace.idFromName(`dpop-jti-${shard}`))
      const verdict = await stub.claim(jti, options.nowMs, DPOP_JTI_TTL_SECONDS, maxRows)
      if (verdict === 'full') throw new AppError('unavailable', `DPoP replay shard ${shard} full`)
      return verdict === 'fresh'
    },
  }
}
