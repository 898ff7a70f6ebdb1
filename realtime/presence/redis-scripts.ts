import { RECORD_EVENT_LUA } from '../lifecycle/redis-record.ts'

/**
 * The Lua scripts of the Redis presence store. Each runs atomically, so two
 * nodes never count the same change twice, and each is O(1) in the room's
 * size (a ZADD or ZREM is O(log n)), but `take` (O(batch)) and `list`
 * (O(page)). Keys are built inside the scripts from the prefix: this needs
 * one Redis (or a primary with replicas), not Redis Cluster, and Redis 6.2+
 * (HRANDFIELD, ZRANGE BYLEX).
 *
 * Layout under the prefix P:
 * - `P m:<room>` sorted set (score 0) of member subs, paged by lex order;
 * - `P h:<room>` hash sub → `<nodes>:<connections>:<name>`, `nodes` being how many nodes hold an entry;
 * - `P n:<node>` hash `<len(room)>:<room><sub>` → that node's connections (0: in grace);
 * - `P b:<room>` hash sub → `j<name>` or `l`: the room's pending batch, net;
 * - `P dirty` sorted set room → when its batch is due (ms, Redis clock);
 * - `P nodes` set of node ids; `P hb:<node>` expiring heartbeat;
 * - `P events`: the lifecycle log (docs/protocol.md §16), appended where a
 *   user's first or last entry, or a room's first or last member, comes or goes.
 *
 * ARGV[1] prefix, ARGV[2] the online pseudo-room (no batches, no cap),
 * ARGV[3] batch ms; the rest per script.
 */
const PREAMBLE = `${RECORD_EVENT_LUA}
local P, ONLINE, BATCH = ARGV[1], ARGV[2], tonumber(ARGV[3])
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function decode(v)
  local r, c, n = string.match(v, '^(%d+):(%d+):(.*)$')
  return tonumber(r), tonumber(c), n
end
local function mark(room, sub, change)
  if room == ONLINE then return end
  local bk = P .. 'b:' .. room
  local before = redis.call('HGET', bk, sub)
  if before and string.sub(before, 1, 1) ~= string.sub(change, 1, 1) then
    redis.call('HDEL', bk, sub)
  else
    redis.call('HSET', bk, sub, change)
  end
  if not redis.call('ZSCORE', P .. 'dirty', room) then
    redis.call('ZADD', P .. 'dirty', now_ms() + BATCH, room)
  end
end
local function drop(room, sub, conns)
  local hk = P .. 'h:' .. room
  local v = redis.call('HGET', hk, sub)
  if not v then return 0 end
  local r, c, n = decode(v)
  if r <= 1 then
    redis.call('HDEL', hk, sub)
    redis.call('ZREM', P .. 'm:' .. room, sub)
    mark(room, sub, 'l')
    if room == ONLINE then
      record_event(P, 'user.offline', sub)
    elseif redis.call('ZCARD', P .. 'm:' .. room) == 0 then
      record_event(P, 'room.vacated', room)
    end
    return 1
  end
  redis.call('HSET', hk, sub, (r - 1) .. ':' .. math.max(0, c - conns) .. ':' .. n)
  return 0
end
`

/** ARGV[4] node, [5] room, [6] sub, [7] name, [8] connections, [9] member cap. Returns 1 if listed, 0 if the room is full. */
export const PUT = `${PREAMBLE}
local node, room, sub, name, conns, cap = ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local nk, hk, field = P .. 'n:' .. node, P .. 'h:' .. room, #room .. ':' .. room .. sub
local prev = redis.call('HGET', nk, field)
local v = redis.call('HGET', hk, sub)
if prev and v then
  local r, c = decode(v)
  redis.call('HSET', hk, sub, r .. ':' .. math.max(0, c + conns - tonumber(prev)) .. ':' .. name)
elseif v then
  local r, c = decode(v)
  redis.call('HSET', hk, sub, (r + 1) .. ':' .. (c + conns) .. ':' .. name)
else
  if room ~= ONLINE and redis.call('ZCARD', P .. 'm:' .. room) >= cap then
    redis.call('HDEL', nk, field)
    return 0
  end
  if room == ONLINE then
    record_event(P, 'user.online', sub)
  elseif redis.call('EXISTS', P .. 'm:' .. room) == 0 then
    record_event(P, 'room.occupied', room)
  end
  redis.call('HSET', hk, sub, '1:' .. conns .. ':' .. name)
  redis.call('ZADD', P .. 'm:' .. room, 0, sub)
  mark(room, sub, 'j' .. name)
end
redis.call('HSET', nk, field, conns)
return 1
`

/**
 * ARGV[4] node, [5] room, [6] sub, [7] '1' to announce a leave even without
 * an entry (a replay after Redis lost its data) when nobody holds `sub`.
 */
export const REMOVE = `${PREAMBLE}
local node, room, sub, replay = ARGV[4], ARGV[5], ARGV[6], ARGV[7] == '1'
local nk, field = P .. 'n:' .. node, #room .. ':' .. room .. sub
local prev = redis.call('HGET', nk, field)
if prev then
  redis.call('HDEL', nk, field)
  return drop(room, sub, tonumber(prev))
end
if replay and redis.call('HEXISTS', P .. 'h:' .. room, sub) == 0 then mark(room, sub, 'l') end
return 0
`

/** ARGV[4] most rooms. Returns [room, [sub, change, …], …] for batches due now, taken. */
export const TAKE = `${PREAMBLE}
local rooms = redis.call('ZRANGEBYSCORE', P .. 'dirty', '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, room in ipairs(rooms) do
  redis.call('ZREM', P .. 'dirty', room)
  local bk = P .. 'b:' .. room
  out[#out + 1] = room
  out[#out + 1] = redis.call('HGETALL', bk)
  redis.call('DEL', bk)
end
return out
`

/** ARGV[4] room, [5] after ('' for the start), [6] limit. Returns [more, [sub, value, …]]. */
export const LIST = `${PREAMBLE}
local room, after, limit = ARGV[4], ARGV[5], tonumber(ARGV[6])
local min = '-'
if after ~= '' then min = '(' .. after end
local subs = redis.call('ZRANGE', P .. 'm:' .. room, min, '+', 'BYLEX', 'LIMIT', 0, limit + 1)
local hk, out = P .. 'h:' .. room, {}
for i = 1, math.min(#subs, limit) do
  local v = redis.call('HGET', hk, subs[i])
  if v then
    out[#out + 1] = subs[i]
    out[#out + 1] = v
  end
end
return { #subs > limit and 1 or 0, out }
`

/** ARGV[4] node, [5] ttl ms. Returns 1 if the heartbeat was still there (0: this node may have been swept). */
export const HEARTBEAT = `${PREAMBLE}
local hb = P .. 'hb:' .. ARGV[4]
local existed = redis.call('EXISTS', hb)
redis.call('SET', hb, '1', 'PX', tonumber(ARGV[5]))
redis.call('SADD', P .. 'nodes', ARGV[4])
return existed
`

/**
 * ARGV[4] a node, [5] chunk. If its heartbeat has expired, remove up to
 * `chunk` of its entries, announcing the leaves. Returns {-1, 0} when the
 * node is alive, else {entries left, members who left}.
 */
export const SWEEP = `${PREAMBLE}
local node, chunk = ARGV[4], tonumber(ARGV[5])
if redis.call('EXISTS', P .. 'hb:' .. node) == 1 then return { -1, 0 } end
local nk = P .. 'n:' .. node
local fields = redis.call('HRANDFIELD', nk, chunk, 'WITHVALUES')
local left = 0
for i = 1, #fields, 2 do
  local f = fields[i]
  local len = string.match(f, '^(%d+):')
  local from = #len + 2
  local room = string.sub(f, from, from + tonumber(len) - 1)
  local sub = string.sub(f, from + tonumber(len))
  redis.call('HDEL', nk, f)
  left = left + drop(room, sub, tonumber(fields[i + 1]))
end
local remaining = redis.call('HLEN', nk)
if remaining == 0 then redis.call('SREM', P .. 'nodes', node) end
return { remaining, left }
`
