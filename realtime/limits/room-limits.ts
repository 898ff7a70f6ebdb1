import { AppError } from '../../shared/errors.ts'
import { isServerRoom } from '../../shared/events.ts'
import { MAX_ROOMS_PER_SOCKET, MAX_ROOMS_PER_USER } from '../constants.ts'
import type { RealtimeSocket } from '../types.ts'

/** Options of {@link RoomLimits}. */
export interface RoomLimitOptions {
  /** Rooms per socket. @default {@link MAX_ROOMS_PER_SOCKET} */
  perSocket?: number
  /** Rooms per user on this node, per namespace. @default {@link MAX_ROOMS_PER_USER} */
  perUser?: number
  /** Called with the cap that refused a join, for metrics. */
  onRefused?: (cap: 'socket' | 'user') => void
}

/**
 * Caps on the rooms a client can make a node hold. The counts are read from
 * Socket.IO's own room sets when a join is asked for, so they can never drift
 * from what the node holds: leaving, or disconnecting, frees a slot at once.
 * A user's sockets on this node are the members of its `user:<sub>` room.
 */
export class RoomLimits {
  readonly perSocket: number
  readonly perUser: number
  private readonly onRefused: RoomLimitOptions['onRefused']

  /**
   * @param options - {@link RoomLimitOptions}
   * @throws TypeError for a cap that is not a positive whole number
   */
  constructor(options: RoomLimitOptions = {}) {
    this.perSocket = options.perSocket ?? MAX_ROOMS_PER_SOCKET
    this.perUser = options.perUser ?? MAX_ROOMS_PER_USER
    for (const cap of [this.perSocket, this.perUser]) {
      if (!Number.isSafeInteger(cap) || cap < 1)
        throw new TypeError('RoomLimits: caps are whole numbers >= 1')
    }
    this.onRefused = options.onRefused
  }

  /**
   * Check that `socket` may join one more room (a room it is already in is not one more).
   *
   * @throws AppError `forbidden` when the socket or its user is at its cap
   */
  assertCanJoin(socket: RealtimeSocket, room: string): void {
    if (socket.rooms.has(room)) return
    if (clientRooms(socket) >= this.perSocket) this.refuse('socket')
    const ids = socket.nsp.adapter.rooms.get(`user:${socket.data.auth.sub}`) ?? new Set([socket.id])
    let held = 0
    for (const id of ids) {
      const member = socket.nsp.sockets.get(id)
      if (member) held += clientRooms(member)
    }
    if (held >= this.perUser) this.refuse('user')
  }

  private refuse(cap: 'socket' | 'user'): never {
    this.onRefused?.(cap)
    throw new AppError('forbidden', `rooms per ${cap} at the cap`)
  }
}

/** Rooms a socket is in besides its own id room and the server-managed `user:*` / `session:*`. */
function clientRooms(socket: RealtimeSocket): number {
  let n = 0
  for (const room of socket.rooms) if (room !== socket.id && !isServerRoom(room)) n++
  return n
}
