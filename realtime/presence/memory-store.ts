import { ONLINE_ROOM, PRESENCE_BATCH_MS, PRESENCE_MAX_MEMBERS_PER_ROOM } from '../constants.ts'
import type { OnTransition } from '../lifecycle/types.ts'
import type { PresenceBatch, PresenceListing, PresenceMember, PresenceStore } from './types.ts'

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Time from a room's first change to its batch, ms. @default PRESENCE_BATCH_MS */
  batchMs?: number
  /** Most members listed per room. @default PRESENCE_MAX_MEMBERS_PER_ROOM */
  maxMembersPerRoom?: number
  /** ms clock. @default Date.now */
  now?: () => number
  /** Told of each lifecycle transition (docs/protocol.md §16): a user's or a room's first member, or last. */
  onTransition?: OnTransition
}

/** A pending change: joined (with the name) or left. */
type Change = { joined: true; name: string } | { joined: false }

interface Room {
  members: Map<string, { name: string; connections: number }>
  /** Subs in order, rebuilt on the first listing after a member came or went. */
  sorted: string[] | undefined
}

/**
 * Presence of a single node, in memory (no `REDIS_URL`). Members are this
 * node's entries; batches are kept per room from its first change, due
 * `batchMs` later, in insertion order, which is due order, so taking them
 * costs only what is due. Memory is bounded by the node's rooms (capped by
 * the caller) times `maxMembersPerRoom`, and a pending batch holds at most
 * one change per user who was a member during it.
 *
 * @param options - {@link MemoryStoreOptions}
 * @example
 * ```ts
 * const store = createMemoryStore({ batchMs: 1000 })
 * await store.put('lobby', 'u1', 'alice', 1)
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): PresenceStore {
  const batchMs = options.batchMs ?? PRESENCE_BATCH_MS
  const cap = options.maxMembersPerRoom ?? PRESENCE_MAX_MEMBERS_PER_ROOM
  const now = options.now ?? Date.now
  const rooms = new Map<string, Room>()
  const pending = new Map<string, { due: number; changes: Map<string, Change> }>()
  let pendingCount = 0

  const mark = (room: string, sub: string, change: Change) => {
    if (room === ONLINE_ROOM) return
    let batch = pending.get(room)
    if (!batch) pending.set(room, (batch = { due: now() + batchMs, changes: new Map() }))
    const before = batch.changes.get(sub)
    // docs/protocol.md §10: a leave and a join of the same user in one batch cancel out.
    if (before && before.joined !== change.joined) {
      batch.changes.delete(sub)
      pendingCount--
    } else {
      if (!before) pendingCount++
      batch.changes.set(sub, change)
    }
  }

  return {
    async put(room, sub, name, connections) {
      let r = rooms.get(room)
      const member = r?.members.get(sub)
      if (member) {
        member.name = name
        member.connections = connections
        return true
      }
      if (!r) rooms.set(room, (r = { members: new Map(), sorted: undefined }))
      if (room !== ONLINE_ROOM && r.members.size >= cap) {
        if (r.members.size === 0) rooms.delete(room)
        return false
      }
      if (room === ONLINE_ROOM) options.onTransition?.('user.online', sub)
      else if (r.members.size === 0) options.onTransition?.('room.occupied', room)
      r.members.set(sub, { name, connections })
      r.sorted = undefined
      mark(room, sub, { joined: true, name })
      return true
    },
    async remove(room, sub) {
      const r = rooms.get(room)
      if (!r?.members.delete(sub)) return
      r.sorted = undefined
      if (r.members.size === 0) rooms.delete(room)
      mark(room, sub, { joined: false })
      if (room === ONLINE_ROOM) options.onTransition?.('user.offline', sub)
      else if (r.members.size === 0) options.onTransition?.('room.vacated', room)
    },
    async list(room, after, limit): Promise<PresenceListing> {
      const r = rooms.get(room)
      if (!r) return { members: [], more: false }
      r.sorted ??= [...r.members.keys()].sort()
      const start = after === undefined ? 0 : firstAfter(r.sorted, after)
      const subs = r.sorted.slice(start, start + limit)
      const members = subs.map((sub): PresenceMember => ({ sub, ...r.members.get(sub)! }))
      return { members, more: start + limit < r.sorted.length }
    },
    async member(room, sub) {
      const m = rooms.get(room)?.members.get(sub)
      return m && { sub, name: m.name, connections: m.connections }
    },
    async takeDue() {
      const out: PresenceBatch[] = []
      const t = now()
      for (const [room, batch] of pending) {
        if (batch.due > t) break
        pending.delete(room)
        pendingCount -= batch.changes.size
        if (batch.changes.size > 0) out.push(toBatch(room, batch.changes))
      }
      return out
    },
    available: () => true,
    pendingChanges: () => pendingCount,
    async close() {
      rooms.clear()
      pending.clear()
      pendingCount = 0
    },
  }
}

/** A room's net changes as the wire's `{ room, joined, left }`. */
export function toBatch(room: string, changes: Iterable<[string, Change]>): PresenceBatch {
  const batch: PresenceBatch = { room, joined: [], left: [] }
  for (const [sub, change] of changes) {
    if (change.joined) batch.joined.push({ sub, name: change.name })
    else batch.left.push({ sub })
  }
  return batch
}

/** Index of the first element of sorted `list` greater than `after`. */
function firstAfter(list: string[], after: string): number {
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (list[mid]! <= after) lo = mid + 1
    else hi = mid
  }
  return lo
}
