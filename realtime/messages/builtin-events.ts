import * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import {
  isReservedRoom,
  roomAllowed,
  RoomJoinSchema,
  RoomRequestSchema,
} from '../../shared/events.ts'
import type { RoomGrants } from '../auth/room-grants.ts'
import { RoomLimits } from '../limits/room-limits.ts'
import { createSyncEvent, type SyncReplayOptions } from '../streams/sync-event.ts'
import type { PublishStore } from '../streams/types.ts'
import { defineEvent } from './registry.ts'

/** What the built-in events need from the server. */
export interface BuiltinEventDeps {
  /** Where `rt:sync` reads the user streams (docs/protocol.md §9). */
  streams: Pick<PublishStore, 'read'>
  /** Room grants for `rt:join` (docs/protocol.md §11); without it a grant is refused `forbidden`. */
  grants?: RoomGrants
  /** The caps `rt:join` holds to. @default new RoomLimits() */
  rooms?: RoomLimits
  /** The per-user replay budget of `rt:sync`. @default 1 MiB per 10 s */
  sync?: SyncReplayOptions
}

/**
 * The protocol's own client events (docs/protocol.md §5 reserved events, and
 * `rt:sync` of docs/protocol.md §9). They go through the same pipeline as
 * application events.
 *
 * @param deps - {@link BuiltinEventDeps}
 * @example
 * ```ts
 * const events = createBuiltinEvents({ streams, grants, rooms: new RoomLimits({ perSocket: 50 }) })
 * ```
 */
export const createBuiltinEvents = (deps: BuiltinEventDeps) => {
  const rooms = deps.rooms ?? new RoomLimits()
  return {
    /** In-band refresh: the pipeline has already made the envelope's token the connection's. */
    'rt:auth': defineEvent({
      schema: v.null(),
      handler: ({ envelope, auth }) => {
        if (envelope.token === undefined)
          throw new AppError('token_missing', 'rt:auth without token')
        return { exp: auth.exp }
      },
    }),
    /**
     * Join a room the `rooms` claim allows, or one a room grant names
     * (docs/protocol.md §11), within the room caps; server-managed rooms and
     * socket-id-shaped names never (docs/protocol.md §5: whether such a room
     * is a socket's on another node cannot be known here, so the shape decides).
     */
    'rt:join': defineEvent({
      schema: RoomJoinSchema,
      handler: async ({ data, auth, socket }) => {
        if (isReservedRoom(data.room)) {
          throw new AppError('forbidden', 'server-managed or socket-id-shaped room')
        }
        const byGrant = !roomAllowed(auth.rooms, data.room)
        if (byGrant) {
          if (data.grant === undefined || !deps.grants) {
            throw new AppError('forbidden', 'room not allowed by the rooms claim')
          }
          await deps.grants.authorize(data.grant, socket.data, data.room)
          // The grant was checked against the connection as it is now: a
          // connection gone meanwhile joins nothing.
          if (!socket.connected) throw new AppError('forbidden', 'connection closed')
        }
        rooms.assertCanJoin(socket, data.room)
        if (byGrant) {
          const granted = (socket.data.grantedRooms ??= [])
          if (!granted.includes(data.room)) granted.push(data.room)
        }
        await socket.join(data.room)
        return { room: data.room }
      },
    }),
    'rt:leave': defineEvent({
      schema: RoomRequestSchema,
      handler: async ({ data, socket }) => {
        if (isReservedRoom(data.room))
          throw new AppError('forbidden', 'server-managed or socket-id-shaped room')
        const granted = socket.data.grantedRooms
        if (granted?.includes(data.room)) granted.splice(granted.indexOf(data.room), 1)
        await socket.leave(data.room)
        return { room: data.room }
      },
    }),
    /** Catch up on the caller's stream (docs/protocol.md §9). */
    'rt:sync': createSyncEvent(deps.streams, deps.sync),
  }
}
