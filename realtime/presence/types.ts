import type { PresenceChanges, PresenceMember } from '../../shared/events.ts'

export type { PresenceMember }
/** `rt:presence` server → client: one room's changes since its last batch. */
export type PresenceBatch = PresenceChanges

/** One page of a room's members, ordered by `sub`. */
export interface PresenceListing {
  members: PresenceMember[]
  /** Whether members follow the last one. */
  more: boolean
}

/**
 * Where a room's members live: this node's memory, or Redis shared by the
 * cluster. Writes are this node's entries (one per room and user); the
 * store counts users across nodes and keeps the pending batch of each room,
 * in which a join and a leave of the same user cancel out.
 */
export interface PresenceStore {
  /**
   * Set this node's entry for `sub` in `room` to `connections` sockets (0:
   * in grace). Resolves false when the room is full and `sub` is not listed.
   */
  put(room: string, sub: string, name: string, connections: number): Promise<boolean>
  /** Remove this node's entry; the user leaves when no node has one. */
  remove(room: string, sub: string): Promise<void>
  /** Up to `limit` members after `after` (exclusive), by `sub`. */
  list(room: string, after: string | undefined, limit: number): Promise<PresenceListing>
  /** One member, or undefined. */
  member(room: string, sub: string): Promise<PresenceMember | undefined>
  /** Take the batches that are due; each is taken by exactly one caller cluster-wide. */
  takeDue(): Promise<PresenceBatch[]>
  /** Whether the store can answer now (Redis connected). */
  available(): boolean
  /** Changes waiting in batches held by this store (memory only; Redis reports 0). */
  pendingChanges(): number
  close(): Promise<void>
}
