import { EVENTS_MAX_ENTRIES, EVENTS_STREAM_SUFFIX } from '../constants.ts'

/**
 * Lua that appends one lifecycle event to the cluster's log (docs/protocol.md
 * §16), for the scripts that decide a transition: presence's `PUT`, `REMOVE`
 * and `SWEEP` (so a user's first entry, last entry and a dead node's sweep
 * record exactly once, in the same atomic step that decides them) and the
 * revocation recorder. Defines `record_event(P, type, value, extra)`.
 *
 * Layout under the presence prefix P: `P events` the stream, each entry
 * `t` type, `v` the sub, room or revocation kind, `i` a revocation's id, `p`
 * the id of the entry before it (trimming does not keep that: a read uses
 * it to tell whether anything after an offset was dropped); `P events:n`
 * hash type → events recorded.
 */
export const RECORD_EVENT_LUA = `
local function record_event(P, t, v, extra)
  local ek = P .. '${EVENTS_STREAM_SUFFIX}'
  local prev = ''
  local top = redis.call('XREVRANGE', ek, '+', '-', 'COUNT', 1)
  if top[1] then
    prev = top[1][1]
  elseif redis.call('EXISTS', ek) == 1 then
    local info = redis.call('XINFO', 'STREAM', ek)
    for n = 1, #info, 2 do if info[n] == 'last-generated-id' then prev = info[n + 1] end end
  end
  if extra then
    redis.call('XADD', ek, 'MAXLEN', ${EVENTS_MAX_ENTRIES}, '*', 't', t, 'v', v, 'i', extra, 'p', prev)
  else
    redis.call('XADD', ek, 'MAXLEN', ${EVENTS_MAX_ENTRIES}, '*', 't', t, 'v', v, 'p', prev)
  end
  redis.call('HINCRBY', ek .. ':n', t, 1)
end
`
