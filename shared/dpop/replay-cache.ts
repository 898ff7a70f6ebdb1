import { DPOP_JTI_TTL_SECONDS } from '../constants.ts'
import { AppError } from '../errors.ts'

/**
 * Remembers proofs' `jti`s for as long as a proof could be replayed. Every
 * place that accepts proofs for the same URLs must share one, across
 * isolates and nodes (a Durable Object at the edge, Redis `SET NX EX` on a
 * realtime cluster).
 */
export interface DpopReplayCache {
  /**
   * Record `jti`. Resolves true the first time within the TTL, false for a
   * replay.
   *
   * @throws AppError `unavailable` when a bounded cache is full of live
   * entries: refusing is the safe answer, forgetting one early is not.
   */
  claim(jti: string): Promise<boolean>
}

/** Options of {@link createMemoryReplayCache}. */
export interface MemoryReplayCacheOptions {
  /** Most `jti`s held at once. @default 100_000 */
  maxEntries?: number
  /** How long each is held, seconds. @default 300 */
  ttlSeconds?: number
  /** The clock, ms. @default Date.now */
  now?: () => number
}

/** A {@link DpopReplayCache} in one process's memory, and how full it is. */
export interface MemoryReplayCache extends DpopReplayCache {
  /** `jti`s held now. */
  readonly size: number
  /** The bound. */
  readonly maxEntries: number
  /** Claims refused because the cache was full, since start. */
  readonly refusedFull: number
}

/** Default bound of a memory replay cache: at ~120 bytes an entry, about 12 MiB. */
export const DEFAULT_REPLAY_CACHE_MAX_ENTRIES = 100_000

/**
 * A bounded {@link DpopReplayCache} for one process. Every entry lives the
 * same TTL, so insertion order is expiry order and pruning walks from the
 * oldest. When full of live entries it refuses new `jti`s rather than
 * forgetting one early (forgetting would let that proof be replayed).
 *
 * @param options - {@link MemoryReplayCacheOptions}
 * @example
 * ```ts
 * const replay = createMemoryReplayCache({ maxEntries: 50_000 })
 * if (!(await replay.claim(proof.jti))) throw new AppError('dpop_invalid', 'proof replayed')
 * ```
 */
export function createMemoryReplayCache(options: MemoryReplayCacheOptions = {}): MemoryReplayCache {
  const maxEntries = options.maxEntries ?? DEFAULT_REPLAY_CACHE_MAX_ENTRIES
  const ttlMs = (options.ttlSeconds ?? DPOP_JTI_TTL_SECONDS) * 1000
  const now = options.now ?? Date.now
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1)
    throw new TypeError('createMemoryReplayCache: maxEntries must be a positive integer')
  if (!(ttlMs > 0)) throw new TypeError('createMemoryReplayCache: ttlSeconds must be positive')
  // jti -> expiry (ms); a Map iterates in insertion order.
  const entries = new Map<string, number>()
  let refusedFull = 0

  function prune(at: number): void {
    for (const [jti, expires] of entries) {
      if (expires > at) break
      entries.delete(jti)
    }
  }

  return {
    async claim(jti) {
      const at = now()
      prune(at)
      if (entries.has(jti)) return false
      if (entries.size >= maxEntries) {
        refusedFull++
        throw new AppError('unavailable', 'DPoP replay cache full')
      }
      entries.set(jti, at + ttlMs)
      return true
    },
    get size() {
      return entries.size
    },
    maxEntries,
    get refusedFull() {
      return refusedFull
    },
  }
}
