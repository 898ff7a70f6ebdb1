import * as v from 'valibot'
import { CHAT_TEXT_MAX_CHARS, MAX_TOKEN_BYTES } from './constants.ts'
import type { Ack, Envelope } from './envelope.ts'
import type { RealtimeErrorCode } from './errors.ts'

/** A room name: 1–128 of `[A-Za-z0-9:_.-]`. */
export const RoomSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9:_.\-]{1,128}$/, 'room: 1-128 of [A-Za-z0-9:_.-]'),
)

/** Rooms the server manages; no client may join or leave them. */
export const SERVER_ROOM_PREFIXES = ['user:', 'session:'] as const

/** Whether `room` is a server-managed room (`user:*`, `session:*`). */
export function isServerRoom(room: string): boolean {
  return SERVER_ROOM_PREFIXES.some((p) => room.startsWith(p))
}

/** The shape of a Socket.IO socket id: 20 characters of `[A-Za-z0-9_-]`. */
const SOCKET_ID_SHAPE = /^[A-Za-z0-9_-]{20}$/

/**
 * Whether `room` has the shape of a socket id (docs/protocol.md §5, v1.2).
 * Every socket is in a room named by its id, which `io.to(id)` targets on
 * any node; which ids exist is known only to the node that holds the
 * socket, so the shape alone decides: no client joins such a room.
 */
export function isSocketIdShaped(room: string): boolean {
  return SOCKET_ID_SHAPE.test(room)
}

/** Whether no client may ever join or leave `room`: server-managed or socket-id-shaped. */
export function isReservedRoom(room: string): boolean {
  return isServerRoom(room) || isSocketIdShaped(room)
}

/**
 * Whether a `rooms` claim lets its holder join `room`: an exact name, or a
 * prefix ending in `*`. Reserved rooms (server-managed, socket-id-shaped) never match.
 *
 * @param patterns - the `rooms` claim
 * @param room - the room asked for
 */
export function roomAllowed(patterns: readonly string[], room: string): boolean {
  if (isReservedRoom(room)) return false
  return patterns.some((p) => (p.endsWith('*') ? room.startsWith(p.slice(0, -1)) : p === room))
}

/** `data` of `rt:join` and `rt:leave`. */
export const RoomRequestSchema = v.strictObject({ room: RoomSchema })

/** A room grant as `rt:join` carries it: a compact JWS of at most 4 KiB, like a token (docs/protocol.md §11). */
export const RoomGrantSchema = v.pipe(v.string(), v.minLength(1), v.maxLength(MAX_TOKEN_BYTES))

/** `data` of `rt:join`: the room, and a grant for a room the `rooms` claim does not cover (docs/protocol.md §11). */
export const RoomJoinSchema = v.strictObject({
  room: RoomSchema,
  grant: v.optional(RoomGrantSchema),
})

/** `data` of `chat:send`. */
export const ChatSendSchema = v.strictObject({
  room: RoomSchema,
  text: v.pipe(
    v.string(),
    v.check((s) => s.isWellFormed(), 'text: well-formed unicode'),
    v.check(
      (s) => s.length >= 1 && [...s].length <= CHAT_TEXT_MAX_CHARS,
      `text: 1-${CHAT_TEXT_MAX_CHARS} characters`,
    ),
  ),
})

/** `chat:message`, broadcast to a room. */
export interface ChatMessage {
  id: string
  room: string
  from: { sub: string; name: string }
  text: string
  ts: number
}

/**
 * A server-published event as delivered (docs/protocol.md §8): the one
 * argument of the event, live or replayed by `rt:sync`.
 */
export interface PublishedEvent<T = unknown> {
  /** The publish id: unique per publishing client only. */
  id: string
  /** (v1.2) The publishing client's `client_id`: repeats are dropped by (`from`, `id`). */
  from: string
  ts: number
  data: T
  /** Present for publishes to a user: its place in the user's stream (opaque). */
  offset?: string
}

/** `rt:error`: a refusal; precedes every server-side disconnect. */
export interface RealtimeErrorPayload {
  id?: string
  code: RealtimeErrorCode
  message: string
  /** With `disconnected` (docs/protocol.md §8): whether the client may connect again. */
  retryable?: boolean
  /** (v1.2) With `dpop_nonce_required`: the nonce to put in the next proof (docs/protocol.md §15). */
  nonce?: string
}

/** `connect_error`'s `err.data` (docs/protocol.md §5). */
export interface ConnectErrorData {
  code: RealtimeErrorCode
  retryable: boolean
  refresh: boolean
  retryAfterMs?: number
  redirect?: string
  /** (v1.2) With `dpop_nonce_required`: the nonce to put in the next proof (docs/protocol.md §15). */
  nonce?: string
}

/** A member in an `rt:presence` answer (docs/protocol.md §10). */
export interface PresenceMember {
  sub: string
  name: string
  /** That user's sockets in the room, cluster-wide; 0 while in the grace period. */
  connections: number
}

/** `rt:presence` server → client: one room's changes since its last batch (docs/protocol.md §10). */
export interface PresenceChanges {
  room: string
  joined: { sub: string; name: string }[]
  left: { sub: string }[]
}

/** Events the server sends. */
export interface ServerToClientEvents {
  'rt:error': (payload: RealtimeErrorPayload) => void
  'rt:expiring': (payload: { exp: number }) => void
  'chat:message': (message: ChatMessage) => void
  'rt:presence': (changes: PresenceChanges) => void
}

/** Events a client sends: one envelope and an optional ack. */
export interface ClientToServerEvents {
  'rt:auth': (envelope: Envelope<null>, ack?: (reply: Ack<{ exp: number }>) => void) => void
  'rt:join': (
    envelope: Envelope<{ room: string; grant?: string }>,
    ack?: (reply: Ack<{ room: string }>) => void,
  ) => void
  'rt:leave': (
    envelope: Envelope<{ room: string }>,
    ack?: (reply: Ack<{ room: string }>) => void,
  ) => void
  'rt:presence': (
    envelope: Envelope<{ room: string; cursor?: string }>,
    ack?: (reply: Ack<{ members: PresenceMember[]; next?: string }>) => void,
  ) => void
  'chat:send': (
    envelope: Envelope<{ room: string; text: string }>,
    ack?: (reply: Ack<{ id: string }>) => void,
  ) => void
  /** Catch up on the caller's stream (docs/protocol.md §9). */
  'rt:sync': (
    envelope: Envelope<{ since: string | null }>,
    ack?: (reply: Ack<{ delivered: number; last: string | null; gap: boolean }>) => void,
  ) => void
}
