import * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { isReservedRoom, RoomSchema } from '../../shared/events.ts'
import { defineEvent } from '../messages/registry.ts'
import { PRESENCE_CURSOR_MAX_CHARS } from '../constants.ts'
import type { Presence } from './presence.ts'

/** `data` of `rt:presence` (client → server): the room, and the `next` of the page before. */
export const PresenceRequestSchema = v.strictObject({
  room: RoomSchema,
  cursor: v.optional(v.pipe(v.string(), v.maxLength(PRESENCE_CURSOR_MAX_CHARS))),
})

/**
 * `rt:presence` (docs/protocol.md §10): a page of the members of a room the
 * socket has joined (the pipeline refuses any other with `forbidden`). The
 * server-managed rooms, which every socket is in, have no presence.
 *
 * @param presence - the node's {@link Presence}
 * @example
 * ```ts
 * registry.set('rt:presence', createPresenceEvent(presence))
 * ```
 */
export function createPresenceEvent(presence: Pick<Presence, 'list'>) {
  return defineEvent({
    schema: PresenceRequestSchema,
    room: (data) => data.room,
    handler: ({ data }) => {
      if (isReservedRoom(data.room)) {
        throw new AppError('forbidden', 'no presence for server-managed or socket-id rooms')
      }
      return presence.list(data.room, data.cursor)
    },
  })
}
