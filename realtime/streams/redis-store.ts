import { createHash } from 'node:crypto'
import * as v from 'valibot'
import {
  API_REDIS_PREFIX,
  DEFAULT_USER_STREAM_MAX,
  DEFAULT_USER_STREAM_TTL_SECONDS,
  PUBLISH_IDEMPOTENCY_TTL_SECONDS,
} from '../constants.ts'
import { SYNC_FROM_START } from '../../shared/constants.ts'
import type { PublishAnswer, PublishStore, StreamEntry, SyncResult } from './types.ts'

/** The commands this store needs from a node-redis client. */
export interface ScriptClient {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>
}

/** Options of {@link createRedisPublishStore}. */
export interface RedisPublishStoreOptions {
  /** Newest entries kept per user. @default 100 */
  maxEntries?: number
  /** Age limit of an entry, seconds. @default 86400 */
  ttlSeconds?: number
  /** Idempotency window, seconds. @default 600 */
  idempotencyTtlSeconds?: number
  /** ms clock, for the age limit. @default Date.now */
  now?: () => number
}

// One script per operation, so a publish's idempotency key and its stream
// entry are written together or not at all, whichever node runs it. Each
// entry records the id before it (`p`): trimming does not move Redis's
// max-deleted-entry-id, so the first kept entry's `p` is how a read knows
// whether anything after `since` was dropped.
// KEYS: idempotency key [, stream key]; ARGV: idempotency ttl s, id, entry JSON, maxlen, stream ttl s, minid ms.
const ACCEPT = `
local prior = redis.call('GET', KEYS[1])
if prior then return {0, prior} end
local answer = '{"id":"' .. ARGV[2] .. '"}'
if KEYS[2] then
  local prev = ''
  local top = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if top[1] then
    prev = top[1][1]
  elseif redis.call('EXISTS', KEYS[2]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[2])
    for i = 1, #info, 2 do if info[i] == 'last-generated-id' then prev = info[i + 1] end end
  end
  local offset = redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], '*', 'e', ARGV[3], 'p', prev)
  redis.call('XTRIM', KEYS[2], 'MINID', ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
  answer = '{"id":"' .. ARGV[2] .. '","offset":"' .. offset .. '"}'
end
redis.call('SET', KEYS[1], answer, 'EX', ARGV[1])
return {1, answer}
`
// KEYS: stream key; ARGV: minid ms, since ('' for null, '0' for the start, else a canonical id), count.
// Returns {} without a stream, else {last id, whether since is held, the first kept entry, entries after since}.
// A since past the last id reads nothing more: Redis refuses an exclusive
// range past the largest id, and nothing can follow it anyway. Ids compare
// as two decimal numbers of up to 20 digits, by length then by text.
const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
redis.call('XTRIM', KEYS[1], 'MINID', ARGV[1])
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local last
for i = 1, #info, 2 do if info[i] == 'last-generated-id' then last = info[i + 1] end end
if ARGV[2] == '' then return {last, 0, {}, {}} end
if ARGV[2] == '0' then
  local all = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[3])
  return {last, 0, {all[1]}, all}
end
local function after(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if #am ~= #bm then return #am > #bm end
  if am ~= bm then return am > bm end
  if #as ~= #bs then return #as > #bs end
  return as > bs
end
if after(ARGV[2], last) then return {last, 0, {}, {}} end
local present = #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
return {last, present, head, redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+', 'COUNT', ARGV[3])}
`

const StoredPublication = v.object({
  id: v.string(),
  // Entries written before v1.2 have no `from`.
  from: v.optional(v.string(), ''),
  ts: v.number(),
  event: v.string(),
  data: v.unknown(),
})
const Answer = v.object({ id: v.string(), offset: v.optional(v.string()) })

/**
 * The {@link PublishStore} of a cluster: idempotency keys (`SET … EX`) and
 * per-user Redis Streams (`XADD … MAXLEN`, `XTRIM MINID`, `EXPIRE`), each
 * publish in one Lua script. Offsets are the stream ids.
 *
 * @param client - a connected node-redis client
 * @param options - {@link RedisPublishStoreOptions}
 */
export function createRedisPublishStore(
  client: ScriptClient,
  options: RedisPublishStoreOptions = {},
): PublishStore {
  const maxEntries = options.maxEntries ?? DEFAULT_USER_STREAM_MAX
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_USER_STREAM_TTL_SECONDS
  const idemTtl = options.idempotencyTtlSeconds ?? PUBLISH_IDEMPOTENCY_TTL_SECONDS
  const now = options.now ?? Date.now
  const minId = () => String(Math.max(0, now() - ttlSeconds * 1000))
  const run = scriptRunner(client)

  return {
    async accept(clientId, to, publication) {
      const keys = [`${API_REDIS_PREFIX}idem:${clientId}:${publication.id}`]
      if ('user' in to) keys.push(streamKey(to.user))
      const reply = await run(ACCEPT, keys, [
        String(idemTtl),
        publication.id,
        JSON.stringify(publication),
        String(maxEntries),
        String(ttlSeconds),
        minId(),
      ])
      const [first, raw] = reply as [number, string]
      const answer: PublishAnswer = v.parse(Answer, JSON.parse(raw))
      return { first: first === 1, answer }
    },
    async read(sub, since) {
      // Checked here, before Redis sees it: an offset of this store is a
      // canonical stream id; anything else only asks Redis for `last`.
      const fromStart = since === SYNC_FROM_START
      const valid = since === null || fromStart || isStreamId(since)
      const reply = (await run(
        READ,
        [streamKey(sub)],
        [minId(), valid && since !== null ? since : '', String(maxEntries)],
      )) as [] | [string, number, [string, string[]][], [string, string[]][]]
      if (reply.length === 0) return { entries: [], last: null, gap: since !== null && !fromStart }
      const [last, present, head, raw] = reply
      if (since === null) return { entries: [], last, gap: false }
      const entries = raw.flatMap(([offset, fields]) => toEntry(offset, fields))
      // From the start: a gap when the first entry kept is not the first the stream had.
      if (fromStart) {
        const first = head[0]
        return { entries, last, gap: first === undefined || field(first[1], 'p') !== '' }
      }
      if (!valid || compareIds(since, last) > 0) return { entries: [], last, gap: true }
      // Nothing after `since` is missing when it is the newest id, is still
      // held, or is the id right before the first entry kept.
      const held =
        compareIds(since, last) === 0 ||
        present > 0 ||
        (head[0] !== undefined && field(head[0][1], 'p') === since)
      return { entries, last, gap: !held } satisfies SyncResult
    },
  }
}

function streamKey(sub: string): string {
  return `${API_REDIS_PREFIX}stream:${sub}`
}

/** A field of a stream entry's flat `[name, value, …]` list. */
function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]
  return undefined
}

function toEntry(offset: string, fields: string[]): StreamEntry[] {
  const json = field(fields, 'e')
  if (json === undefined) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return []
  }
  const result = v.safeParse(StoredPublication, parsed)
  return result.success ? [{ ...result.output, offset }] : []
}

const MAX_ID_PART = 2n ** 64n - 1n

/**
 * Whether `id` is a Redis stream id as Redis writes them (`<ms>-<seq>`, each
 * within 64 bits, no leading zeros), so the script may compare it as text;
 * never `0-0`, which no entry has.
 */
function isStreamId(id: string): boolean {
  const m = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/.exec(id)
  return m !== null && id !== '0-0' && BigInt(m[1]!) <= MAX_ID_PART && BigInt(m[2]!) <= MAX_ID_PART
}

/** Order two stream ids. */
function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(BigInt) as [bigint, bigint]
  const [bm, bs] = b.split('-').map(BigInt) as [bigint, bigint]
  return am !== bm ? (am < bm ? -1 : 1) : as === bs ? 0 : as < bs ? -1 : 1
}

/** EVALSHA, falling back to EVAL when Redis does not hold the script yet (after a restart). */
export function scriptRunner(client: ScriptClient) {
  const shas = new Map<string, string>()
  return async (script: string, keys: string[], args: string[]): Promise<unknown> => {
    let sha = shas.get(script)
    if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')))
    try {
      return await client.evalSha(sha, { keys, arguments: args })
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
      return client.eval(script, { keys, arguments: args })
    }
  }
}
