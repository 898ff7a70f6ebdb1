import * as v from 'valibot'
import { SubjectSchema } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { isServerRoom, RoomSchema } from '../../shared/events.ts'
import { PRESENCE_CURSOR_MAX_CHARS, PRESENCE_PAGE_SIZE } from '../constants.ts'
import type { Presence, PresencePage } from './presence.ts'

/** `?limit=` (1–1000) and `?cursor=` of `GET /api/v1/presence/rooms/:room`. */
const RoomQuerySchema = v.object({
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[1-9]\d{0,3}$/),
      v.transform(Number),
      v.maxValue(PRESENCE_PAGE_SIZE),
    ),
  ),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(PRESENCE_CURSOR_MAX_CHARS))),
})

/** The presence reads of the server API (docs/protocol.md §8), for its routes to call after auth, scope and rate. */
export interface PresenceReads {
  /** `GET /api/v1/presence/rooms/:room` → 200 `{ room, members, next? }`. */
  room(
    room: string,
    query: Record<string, string | undefined>,
  ): Promise<{ room: string } & PresencePage>
  /** `GET /api/v1/presence/users/:sub` → 200 `{ sub, online, connections }`. */
  user(sub: string): Promise<{ sub: string; online: boolean; connections: number }>
}

/**
 * The two presence reads of the server API, as functions the API mounts
 * behind its service-token auth, the `presence:read` scope (403 without
 * it) and the per-client rate. Bad input throws AppError `envelope_invalid`
 * (400); the server-managed rooms throw `forbidden` (403), as for clients;
 * Redis away throws `unavailable` (503).
 *
 * @param presence - the node's presence
 * @example
 * ```ts
 * const reads = createPresenceReads(server.presence)
 * app.get('/presence/rooms/:room', async (c) => c.json(await reads.room(c.req.param('room'), c.req.query())))
 * ```
 */
export function createPresenceReads(presence: Pick<Presence, 'list' | 'user'>): PresenceReads {
  return {
    async room(room, query) {
      if (!v.is(RoomSchema, room)) throw new AppError('envelope_invalid', 'room name')
      if (isServerRoom(room))
        throw new AppError('forbidden', 'no presence for server-managed rooms')
      const parsed = v.safeParse(RoomQuerySchema, { limit: query.limit, cursor: query.cursor })
      if (!parsed.success) throw new AppError('envelope_invalid', 'limit (1-1000) or cursor')
      const page = await presence.list(
        room,
        parsed.output.cursor,
        parsed.output.limit ?? PRESENCE_PAGE_SIZE,
      )
      return { room, ...page }
    },
    async user(sub) {
      if (!v.is(SubjectSchema, sub)) throw new AppError('envelope_invalid', 'sub')
      return { sub, ...(await presence.user(sub)) }
    },
  }
}
