import { Registry } from 'prom-client'
import { AppError } from '../../shared/errors.ts'
import { isServerRoom } from '../../shared/events.ts'
import { silentLogger, type Logger } from '../log.ts'
import type { RealtimeIo, RealtimeNamespace } from '../types.ts'
import {
  ONLINE_ROOM,
  PRESENCE_BATCH_MS,
  PRESENCE_FLUSH_TICK_MS,
  PRESENCE_GRACE_MS,
  PRESENCE_MAX_BATCH_CHANGES,
  PRESENCE_MAX_MEMBERS_PER_ROOM,
  PRESENCE_MAX_ROOMS,
  PRESENCE_PAGE_SIZE,
} from '../constants.ts'
import { decodeCursor, encodeCursor } from './cursor.ts'
import { LocalMembers, type LocalEntry } from './local-members.ts'
import type { OnTransition } from '../lifecycle/types.ts'
import { createMemoryStore } from './memory-store.ts'
import { createPresenceMetrics, type PresenceMetrics } from './metrics.ts'
import type { PresenceBatch, PresenceMember, PresenceStore } from './types.ts'

/** What a store factory gets: this node's entries (to register again) and the settings. */
export interface StoreContext {
  local: { entries(): Iterable<LocalEntry> }
  batchMs: number
  maxMembersPerRoom: number
  now: () => number
  metrics: PresenceMetrics
  logger: Logger
  /** Lifecycle transitions of a store that does not record them itself (memory). */
  onTransition?: OnTransition
}

/** Settings of presence, each with the default of realtime/constants.ts. */
export interface PresenceSettings {
  /** @default PRESENCE_GRACE_MS (5000) */
  graceMs?: number
  /** @default PRESENCE_BATCH_MS (1000) */
  batchMs?: number
  /** @default PRESENCE_MAX_ROOMS */
  maxRooms?: number
  /** @default PRESENCE_MAX_MEMBERS_PER_ROOM */
  maxMembersPerRoom?: number
  /** @default PRESENCE_MAX_BATCH_CHANGES */
  maxBatchChanges?: number
  /** @default PRESENCE_FLUSH_TICK_MS */
  flushTickMs?: number
}

/** Options of {@link createPresence}. */
export interface PresenceOptions extends PresenceSettings {
  io: RealtimeIo
  /** Where members live. @default this node's memory ({@link createMemoryStore}) */
  store?: (context: StoreContext) => PresenceStore
  /** Metrics registry. @default none (metrics kept but not exported) */
  registry?: Registry
  /** ms clock. @default Date.now */
  now?: () => number
  logger?: Logger
  /** Lifecycle transitions (docs/protocol.md §16), for the memory store; the Redis store's scripts record them. */
  onTransition?: OnTransition
}

/** A page as the wire has it: `{ members, next? }`. */
export interface PresencePage {
  members: PresenceMember[]
  next?: string
}

/** A node's presence (docs/protocol.md §10). */
export interface Presence {
  /** Follow joins and leaves of a namespace's sockets (its adapter's `join-room` and `leave-room`). */
  install(nsp: RealtimeNamespace): void
  /** A page of `room`'s members. @throws AppError `envelope_invalid` (cursor), `unavailable` (Redis away) */
  list(room: string, cursor?: string, limit?: number): Promise<PresencePage>
  /** Whether `sub` has a socket (or is in grace) anywhere, and how many sockets. */
  user(sub: string): Promise<{ online: boolean; connections: number }>
  /** Emit the batches that are due (the timer calls it; tests may too). */
  flush(): Promise<void>
  close(): Promise<void>
}

/**
 * Presence: who is in each room, counting users not sockets, with the grace
 * period, and the rooms' change batches (docs/protocol.md §10). It follows
 * the namespace adapter's room events, so every way a socket enters or
 * leaves a room counts: `rt:join`, `rt:leave`, a disconnect, a server kick, a
 * recovered session. `user:<sub>` feeds the per-user answer of the server
 * API; `session:*` and connections' own rooms have no presence.
 *
 * @param options - {@link PresenceOptions}
 * @example
 * ```ts
 * const presence = createPresence({ io, registry: metrics.registry })
 * presence.install(io.of('/'))
 * ```
 */
export function createPresence(options: PresenceOptions): Presence {
  const now = options.now ?? Date.now
  const logger = options.logger ?? silentLogger
  const batchMs = options.batchMs ?? PRESENCE_BATCH_MS
  const maxBatch = options.maxBatchChanges ?? PRESENCE_MAX_BATCH_CHANGES
  let store: PresenceStore | undefined
  const local = new LocalMembers({
    graceMs: options.graceMs ?? PRESENCE_GRACE_MS,
    maxRooms: options.maxRooms ?? PRESENCE_MAX_ROOMS,
    now,
    onPut: (entry) => {
      store!.put(entry.room, entry.sub, entry.name, entry.connections).then(
        (listed) => {
          if (!listed) metrics.untracked.inc({ reason: 'room_full' })
        },
        (err: Error) => logger('warn', 'presence not stored', { error: err.message }),
      )
    },
    onRemove: (entry) => {
      store!
        .remove(entry.room, entry.sub)
        .catch((err: Error) => logger('warn', 'presence not removed', { error: err.message }))
    },
    onRoomsFull: () => metrics.untracked.inc({ reason: 'rooms_full' }),
  })
  const metrics = createPresenceMetrics(options.registry ?? new Registry(), {
    rooms: () => local.roomCount(),
    entries: () => local.entryCount(),
    pending: () => store?.pendingChanges() ?? 0,
  })
  const maxMembersPerRoom = options.maxMembersPerRoom ?? PRESENCE_MAX_MEMBERS_PER_ROOM
  store = (options.store ?? ((c) => createMemoryStore(c)))({
    local,
    batchMs,
    maxMembersPerRoom,
    now,
    metrics,
    logger,
    ...(options.onTransition && { onTransition: options.onTransition }),
  })

  let flushing: Promise<void> | undefined
  const emit = (batch: PresenceBatch) => {
    // A batch larger than one message goes out as several, in the same flush.
    const changes = [
      ...batch.joined.map((j) => ({ joined: j })),
      ...batch.left.map((l) => ({ left: l })),
    ]
    for (let i = 0; i < changes.length; i += maxBatch) {
      const part: PresenceBatch = { room: batch.room, joined: [], left: [] }
      for (const c of changes.slice(i, i + maxBatch)) {
        if ('joined' in c) part.joined.push(c.joined)
        else part.left.push(c.left)
      }
      options.io.to(batch.room).emit('rt:presence', part)
      metrics.messages.inc()
    }
    metrics.changes.inc({ kind: 'joined' }, batch.joined.length)
    metrics.changes.inc({ kind: 'left' }, batch.left.length)
  }
  const flush = (): Promise<void> => {
    flushing ??= store!
      .takeDue()
      .then((batches) => batches.forEach(emit))
      .catch((err: Error) => logger('warn', 'presence batches not taken', { error: err.message }))
      .finally(() => (flushing = undefined))
    return flushing
  }
  const timer = setInterval(() => void flush(), options.flushTickMs ?? PRESENCE_FLUSH_TICK_MS)
  timer.unref()

  const requireStore = (): PresenceStore => {
    if (!store!.available()) throw new AppError('unavailable', 'presence store unreachable')
    return store!
  }

  return {
    install(nsp) {
      nsp.adapter.on('join-room', (room: string, id: string) => {
        if (room === id) return
        const auth = nsp.sockets.get(id)?.data.auth
        if (!auth) return
        if (isServerRoom(room)) {
          if (room === `user:${auth.sub}`) local.join(id, auth.sub, auth.name, ONLINE_ROOM)
          return
        }
        // Another connection's private room (io.to(socketId)) is not a room with members.
        if (nsp.sockets.has(room)) return
        local.join(id, auth.sub, auth.name, room)
      })
      nsp.adapter.on('leave-room', (room: string, id: string) => {
        if (room === id || room.startsWith('session:')) return
        local.leave(id, room.startsWith('user:') ? ONLINE_ROOM : room)
      })
    },
    async list(room, cursor, limit = PRESENCE_PAGE_SIZE) {
      const after = cursor === undefined ? undefined : decodeCursor(cursor)
      const { members, more } = await requireStore().list(room, after, limit)
      return more && members.length > 0
        ? { members, next: encodeCursor(members.at(-1)!.sub) }
        : { members }
    },
    async user(sub) {
      const member = await requireStore().member(ONLINE_ROOM, sub)
      return { online: member !== undefined, connections: member?.connections ?? 0 }
    },
    flush,
    async close() {
      clearInterval(timer)
      await flushing
      local.close()
      await store!.close()
    },
  }
}
