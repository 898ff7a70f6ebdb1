import * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { isServerRoom, roomAllowed, RoomRequestSchema } from '../../shared/events.ts'
import { createSyncEvent } from '../streams/sync-event.ts'
import type { PublishStore } from '../streams/types.ts'
import { defineEvent, type EventContext } from './registry.ts'

/**
 * Whether `room` is a connection's private room: Socket.IO puts every socket
 * in a room named by its id, which `io.to(socket.id)` targets. Like `user:*`
 * and `session:*`, no client may join or leave one, whatever its claim.
 */
function isSocketRoom(socket: EventContext<unknown>['socket'], room: string): boolean {
  return room === socket.id || socket.nsp.sockets.has(room)
}

/**
 * The protocol's own client events (PROTOCOL §5 reserved events, and
 * `rt:sync` of docs/protocol.md §9). They go through the same pipeline as
 * application events.
 *
 * @param deps - `streams`: where `rt:sync` reads the user streams
 */
export const createBuiltinEvents = (deps: { streams: Pick<PublishStore, 'read'> }) => ({
  /** In-band refresh: the pipeline has already made the envelope's token the connection's. */
  'rt:auth': defineEvent({
    schema: v.null(),
    handler: ({ envelope, auth }) => {
      if (envelope.token === undefined) throw new AppError('token_missing', 'rt:auth without token')
      return { exp: auth.exp }
    },
  }),
  /** Join a room the `rooms` claim allows; server-managed rooms and connections' private rooms never. */
  'rt:join': defineEvent({
    schema: RoomRequestSchema,
    handler: async ({ data, auth, socket }) => {
      if (!roomAllowed(auth.rooms, data.room)) throw new AppError('forbidden', 'room not allowed by the rooms claim')
      if (isSocketRoom(socket, data.room)) throw new AppError('forbidden', 'private room of a connection')
      await socket.join(data.room)
      return { room: data.room }
    },
  }),
  'rt:leave': defineEvent({
    schema: RoomRequestSchema,
    handler: async ({ data, socket }) => {
      if (isServerRoom(data.room) || isSocketRoom(socket, data.room)) throw new AppError('forbidden', 'server-managed room')
      await socket.leave(data.room)
      return { room: data.room }
    },
  }),
  /** Catch up on the caller's stream (docs/protocol.md §9). */
  'rt:sync': createSyncEvent(deps.streams),
})
