import { DeadlineWheel } from '../session/deadline-wheel.ts'
import { ONLINE_ROOM } from '../constants.ts'

/** This node's count of one user's sockets in one room. */
export interface LocalEntry {
  readonly room: string
  readonly sub: string
  name: string
  /** Sockets of `sub` in `room` on this node; 0 while in grace. */
  connections: number
}

/** Options of {@link LocalMembers}. */
export interface LocalMembersOptions {
  /** Time a user stays after their last socket here leaves, ms. */
  graceMs: number
  /** Most rooms with entries on this node ({@link ONLINE_ROOM} aside). */
  maxRooms: number
  /** ms clock. */
  now: () => number
  /** An entry was created or its count changed (0: its grace began). */
  onPut: (entry: LocalEntry) => void
  /** An entry's grace ended with no socket back: it is gone. */
  onRemove: (entry: LocalEntry) => void
  /** A join was not counted because the node holds `maxRooms` rooms. */
  onRoomsFull?: () => void
  /** Grace resolution, ms. @default the wheel's (250) */
  resolutionMs?: number
}

/**
 * Counts users, not sockets, in each room on this node (docs/protocol.md
 * §10). A user's entry appears with their first socket and is removed when
 * their last socket has been gone for the grace period; a socket back in
 * time cancels the removal, so a reload is neither a leave nor a join. Each
 * join or leave is O(1); grace deadlines share one timer wheel.
 */
export class LocalMembers {
  private readonly rooms = new Map<string, Map<string, LocalEntry>>()
  /** The rooms each socket was counted in, so a leave is counted only after its join. */
  private readonly sockets = new Map<string, { sub: string; rooms: string[] }>()
  private readonly grace: DeadlineWheel<LocalEntry>
  private readonly o: LocalMembersOptions

  constructor(options: LocalMembersOptions) {
    this.o = options
    const { now, resolutionMs } = options
    this.grace = new DeadlineWheel({ now, resolutionMs, onDue: (entry) => this.expire(entry) })
  }

  /** Count socket `id` of `sub` in `room`. Returns false when not counted (too many rooms). */
  join(id: string, sub: string, name: string, room: string): boolean {
    let socket = this.sockets.get(id)
    if (socket?.rooms.includes(room)) return true
    let members = this.rooms.get(room)
    if (!members) {
      if (room !== ONLINE_ROOM && this.roomCount() >= this.o.maxRooms) {
        this.o.onRoomsFull?.()
        return false
      }
      this.rooms.set(room, (members = new Map()))
    }
    let entry = members.get(sub)
    if (!entry) members.set(sub, (entry = { room, sub, name, connections: 0 }))
    // A literal one-room array: `[]` and a push would reserve 17 slots (152 bytes) per socket.
    if (!socket) this.sockets.set(id, { sub, rooms: [room] })
    else socket.rooms.push(room)
    entry.connections++
    entry.name = name
    this.grace.cancel(entry)
    this.o.onPut(entry)
    return true
  }

  /** Socket `id` left `room` (or disconnected); ignored unless its join was counted. */
  leave(id: string, room: string): void {
    const socket = this.sockets.get(id)
    const at = socket ? socket.rooms.indexOf(room) : -1
    if (!socket || at < 0) return
    socket.rooms.splice(at, 1)
    if (socket.rooms.length === 0) this.sockets.delete(id)
    const entry = this.rooms.get(room)?.get(socket.sub)
    if (!entry) return
    entry.connections--
    this.o.onPut(entry)
    if (entry.connections === 0) this.grace.schedule(entry, this.o.now() + this.o.graceMs)
  }

  /** Every entry on this node (to register them again after Redis comes back). */
  *entries(): IterableIterator<LocalEntry> {
    for (const members of this.rooms.values()) yield* members.values()
  }

  /** Whether this node holds an entry for `sub` in `room`. */
  has(room: string, sub: string): boolean {
    return this.rooms.get(room)?.has(sub) ?? false
  }

  /** Rooms with entries, {@link ONLINE_ROOM} aside. */
  roomCount(): number {
    return this.rooms.size - (this.rooms.has(ONLINE_ROOM) ? 1 : 0)
  }

  /** Entries on this node, {@link ONLINE_ROOM} aside. */
  entryCount(): number {
    let n = 0
    for (const [room, members] of this.rooms) if (room !== ONLINE_ROOM) n += members.size
    return n
  }

  /** Fire due grace deadlines now (tests with a fake clock). */
  tick(): void {
    this.grace.tick()
  }

  /** Stop the grace timer. */
  close(): void {
    this.grace.close()
  }

  private expire(entry: LocalEntry): void {
    if (entry.connections > 0) return
    const members = this.rooms.get(entry.room)
    if (members?.get(entry.sub) !== entry) return
    members.delete(entry.sub)
    if (members.size === 0) this.rooms.delete(entry.room)
    this.o.onRemove(entry)
  }
}
