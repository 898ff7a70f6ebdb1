import { AppError } from '../../shared/errors.ts'
import { LIFECYCLE_EVENT_TYPES, type LifecycleEventType } from '../../shared/constants.ts'
import {
  DEFAULT_EVENTS_RETENTION_SECONDS,
  EVENTS_STREAM_SUFFIX,
  EVENTS_TRIM_INTERVAL_MS,
  PRESENCE_REDIS_PREFIX,
} from '../constants.ts'
import type { Logger } from '../log.ts'
import { luaScript, type RedisClient } from '../presence/redis-eval.ts'
import type { Revocation } from '../revocations/apply.ts'
import { toEvent } from './event-shape.ts'
import { RECORD_EVENT_LUA } from './redis-record.ts'
import type { EventLog, LifecycleEvent } from './types.ts'

/** Options of {@link createRedisLog}. */
export interface RedisLogOptions {
  client: RedisClient
  /** The presence prefix, under which presence's scripts write the log. @default PRESENCE_REDIS_PREFIX */
  prefix?: string
  /** Age limit, seconds. @default DEFAULT_EVENTS_RETENTION_SECONDS (7 days) */
  retentionSeconds?: number
  /** ms clock, for the age limit. @default Date.now */
  now?: () => number
  logger: Logger
}

// ARGV: prefix, kind, id, at, until ms. A §6 event is recorded by the first node that applies it.
const REVOKED = `${RECORD_EVENT_LUA}
local P = ARGV[1]
local key = P .. '${EVENTS_STREAM_SUFFIX}:rv:' .. ARGV[2] .. ':' .. ARGV[4] .. ':' .. ARGV[3]
if redis.call('SET', key, '1', 'NX', 'PXAT', ARGV[5]) then
  record_event(P, 'session.revoked', ARGV[2], ARGV[3])
  return 1
end
return 0
`
// ARGV: stream key, after ('' none, '0' the start), limit, minid.
// Returns {gap, entries}: gap when entries after \`after\` were trimmed or \`after\` is no entry's id.
const READ = `
local key, after, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('XTRIM', key, 'MINID', ARGV[4])
local function prev_of(entry)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == 'p' then return f[i + 1] end end
  return ''
end
local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
local function from_start(gap) return { gap, redis.call('XRANGE', key, '-', '+', 'COUNT', limit) } end
if after == '' then return from_start(0) end
if after == '0' then return from_start((head[1] and prev_of(head[1]) ~= '') and 1 or 0) end
if #redis.call('XRANGE', key, after, after) == 1 then
  return { 0, redis.call('XRANGE', key, '(' .. after, '+', 'COUNT', limit) }
end
if head[1] then return from_start(prev_of(head[1]) == after and 0 or 1) end
if redis.call('EXISTS', key) == 1 then
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' and info[i + 1] == after then return { 0, {} } end
  end
end
return { 1, {} }
`
const runRevoked = luaScript(REVOKED)
const runRead = luaScript(READ)

/** A Redis stream entry: `[id, [field, value, …]]`. */
type StreamEntry = [string, string[]]

/**
 * The lifecycle log of a cluster (docs/protocol.md §16): the Redis Stream
 * `<presence prefix>events`, which presence's scripts append to in the same
 * step that decides a transition, so each is recorded once cluster-wide.
 * Offsets are the stream's ids; the count is capped at append
 * (`EVENTS_MAX_ENTRIES`), the age by `XTRIM MINID` every minute and on each read.
 *
 * @param options - {@link RedisLogOptions}
 * @example
 * ```ts
 * const log = createRedisLog({ client: cluster.client, logger })
 * const page = await log.read(undefined, 100)
 * ```
 */
export function createRedisLog(options: RedisLogOptions): EventLog & { key: string } {
  const { client, logger } = options
  const prefix = options.prefix ?? PRESENCE_REDIS_PREFIX
  const key = prefix + EVENTS_STREAM_SUFFIX
  const now = options.now ?? Date.now
  const retentionMs = (options.retentionSeconds ?? DEFAULT_EVENTS_RETENTION_SECONDS) * 1000
  const minId = () => String(Math.max(0, now() - retentionMs))
  const ready = () => {
    if (!client.isReady) throw new AppError('unavailable', 'redis disconnected')
  }
  const trim = setInterval(() => {
    if (!client.isReady) return
    client
      .sendCommand(['XTRIM', key, 'MINID', minId()])
      .catch((err: Error) => logger('warn', 'event log not trimmed', { error: err.message }))
  }, EVENTS_TRIM_INTERVAL_MS)
  trim.unref()

  return {
    key,
    transition() {
      // Presence's scripts record transitions in Redis themselves.
    },
    async revoked(event: Revocation) {
      ready()
      // Kept until the event no longer matters, and at least a minute (an `until` already past).
      const untilMs = Math.max(event.until * 1000, now() + 60_000)
      await runRevoked(client, [prefix, event.kind, event.id, event.at, untilMs])
    },
    async read(after, limit) {
      if (after !== undefined && after !== '0' && !/^\d{1,20}-\d{1,20}$/.test(after)) {
        throw new AppError('envelope_invalid', 'after: not an offset')
      }
      ready()
      const [gap, entries] = (await runRead(client, [key, after ?? '', limit, minId()])) as [
        number,
        StreamEntry[],
      ]
      const events = entries.map(parseEntry)
      return { events, next: events.at(-1)?.offset ?? after ?? '0', gap: gap === 1 }
    },
    async counts() {
      ready()
      const raw = await client.hGetAll(`${key}:n`)
      const out: Partial<Record<LifecycleEventType, number>> = {}
      for (const type of LIFECYCLE_EVENT_TYPES) if (raw[type]) out[type] = Number(raw[type])
      return out
    },
    close: () => clearInterval(trim),
  }
}

/** A stream entry as an event: offset and ts from its id, the rest from its fields. */
export function parseEntry([offset, flat]: StreamEntry): LifecycleEvent {
  const fields: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
  const type = fields.t as LifecycleEventType
  if (!(LIFECYCLE_EVENT_TYPES as readonly string[]).includes(type)) {
    throw new TypeError(`event log entry ${offset}: unknown type`)
  }
  const ts = Number(offset.slice(0, offset.indexOf('-')))
  return toEvent(offset, `evt_${offset.replace('-', '_')}`, ts, {
    type,
    value: fields.v ?? '',
    ...(fields.i !== undefined && { extra: fields.i }),
  })
}
