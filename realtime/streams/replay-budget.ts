import { API_REDIS_PREFIX } from '../constants.ts'
import { AddressRate } from '../limits/address-rate.ts'
import { scriptRunner, type ScriptClient } from './redis-store.ts'

/**
 * The bytes a user's `rt:sync`s may replay (docs/protocol.md §9, v1.2): a
 * token bucket per user that every node of a cluster shares, so a user with
 * sockets on several nodes replays no more than with one.
 */
export interface ReplayBudget {
  /** Milliseconds until `sub` may replay again (0: now). */
  wait(sub: string): Promise<number>
  /** Charge `sub` what a sync replayed, possibly more than is left (the debt is repaid first). */
  spend(sub: string, bytes: number): Promise<void>
}

/** The budget's size and window. */
export interface ReplayBudgetLimits {
  /** Bytes per window. */
  maxBytes: number
  /** The window, ms. */
  windowMs: number
}

/**
 * The budget in one process's memory: for a node on its own.
 *
 * @param limits - {@link ReplayBudgetLimits}
 * @param now - ms clock
 */
export function memoryReplayBudget(limits: ReplayBudgetLimits, now: () => number): ReplayBudget {
  const buckets = new AddressRate(limits.maxBytes / (limits.windowMs / 1000), limits.maxBytes)
  return {
    wait: async (sub) => buckets.wait(sub, now()),
    spend: async (sub, bytes) => buckets.spend(sub, now(), bytes),
  }
}

// A token bucket in one hash per user, read and written in one script so two
// nodes never both spend the same tokens. The clock is Redis's own (TIME), so
// nodes whose clocks disagree still share one bucket. The key lives as long as
// the bucket takes to refill from empty, after which it would be full anyway.
// KEYS: bucket; ARGV: bytes per window, window ms, cost (0: only ask).
// Returns ms until a token is available (0: now).
const BUCKET = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local burst = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local perMs = burst / window
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local cost = tonumber(ARGV[3])
if cost > 0 then
  tokens = tokens - cost
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / perMs) + 1000)
end
if tokens >= 1 then return 0 end
return math.ceil((1 - tokens) / perMs)
`

/**
 * The budget in Redis: one bucket per user for the whole cluster.
 *
 * @param client - the cluster's node-redis client
 * @param limits - {@link ReplayBudgetLimits}
 */
export function redisReplayBudget(client: ScriptClient, limits: ReplayBudgetLimits): ReplayBudget {
  const run = scriptRunner(client)
  const bucket = async (sub: string, cost: number) =>
    Number(
      await run(
        BUCKET,
        [`${API_REDIS_PREFIX}sync-budget:${sub}`],
        [String(limits.maxBytes), String(limits.windowMs), String(cost)],
      ),
    )
  return {
    wait: (sub) => bucket(sub, 0),
    spend: async (sub, bytes) => {
      if (bytes > 0) await bucket(sub, bytes)
    },
  }
}
