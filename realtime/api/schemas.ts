import * as v from 'valibot'
import { SubjectSchema } from '../../shared/claims.ts'
import { EnvelopeIdSchema } from '../../shared/envelope.ts'
import { AppError } from '../../shared/errors.ts'
import { describeIssues } from '../../shared/issues.ts'
import { isServerRoom, RoomSchema } from '../../shared/events.ts'
import { RESERVED_EVENTS } from '../messages/registry.ts'
import { MAX_PUBLISH_DATA_BYTES, MAX_PUBLISH_DATA_DEPTH_LEVELS } from '../constants.ts'

/**
 * A published event's name (docs/protocol.md §8): 1–64 of `[a-z0-9_.:-]`,
 * starting with a letter, never `rt:` (the protocol's own) nor a name
 * Socket.IO reserves (`connect`, `disconnect`, …), which it would refuse to emit.
 */
export const PublishEventSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z][a-z0-9_.:-]{0,63}$/, 'event: 1-64 of [a-z0-9_.:-] starting with a letter'),
  v.check((name) => !name.startsWith('rt:') && !RESERVED_EVENTS.has(name), 'event: reserved name'),
)

/**
 * A user (`sub`) or session (`sid`) target: the range the handshake accepts
 * (docs/protocol.md §8, v1.2), by the same schema, so every connected user
 * can be published to and disconnected.
 */
const TargetSchema = SubjectSchema

/** A room target: a room name, never a server-managed `user:*` / `session:*` room (publish to the user or session instead). */
const RoomTargetSchema = v.pipe(
  RoomSchema,
  v.check(
    (room) => !isServerRoom(room),
    'room: use { user } or { session } for server-managed rooms',
  ),
)

/** `to` of a publish: exactly one of `user`, `session`, `room`. */
export const PublishTargetSchema = v.union([
  v.strictObject({ user: TargetSchema }),
  v.strictObject({ session: TargetSchema }),
  v.strictObject({ room: RoomTargetSchema }),
])

const PublishBodySchema = v.strictObject({
  to: PublishTargetSchema,
  event: PublishEventSchema,
  data: v.unknown(),
  id: v.optional(EnvelopeIdSchema),
})

/** A checked publish request. */
export type PublishRequest = v.InferOutput<typeof PublishBodySchema>

const DisconnectBodySchema = v.union([
  v.strictObject({ user: TargetSchema, retryable: v.optional(v.boolean()) }),
  v.strictObject({ session: TargetSchema, retryable: v.optional(v.boolean()) }),
])

/** A checked disconnect request. */
export type DisconnectRequest = v.InferOutput<typeof DisconnectBodySchema>

/**
 * Check a publish body (docs/protocol.md §8).
 *
 * @returns the request and the serialized size of its `data`
 * @throws AppError `envelope_invalid` naming the failed rule (`data` nested
 *   deeper than 64 levels among them), `payload_too_large` for `data` over 16 KiB
 */
export function parsePublish(body: unknown): { request: PublishRequest; dataBytes: number } {
  const request = parse(PublishBodySchema, body)
  if (!('data' in request)) throw new AppError('envelope_invalid', 'data: required')
  // Before anything walks `data` recursively (JSON.stringify would overflow the stack).
  if (deeperThan(request.data, MAX_PUBLISH_DATA_DEPTH_LEVELS)) {
    throw new AppError(
      'envelope_invalid',
      `data: nested deeper than ${MAX_PUBLISH_DATA_DEPTH_LEVELS} levels`,
    )
  }
  const dataBytes = Buffer.byteLength(JSON.stringify(request.data))
  if (dataBytes > MAX_PUBLISH_DATA_BYTES)
    throw new AppError('payload_too_large', `data over ${MAX_PUBLISH_DATA_BYTES} bytes`)
  return { request, dataBytes }
}

/**
 * Check a disconnect body (docs/protocol.md §8).
 *
 * @throws AppError `envelope_invalid` naming the failed rule
 */
export function parseDisconnect(body: unknown): DisconnectRequest {
  return parse(DisconnectBodySchema, body)
}

/** Parse, or throw `envelope_invalid` naming the first failed rule (never the input). */
function parse<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, body)
  if (!result.success) throw new AppError('envelope_invalid', describeIssues(result.issues))
  return result.output
}

/**
 * Whether arrays and objects nest more than `max` levels deep in `value`
 * (parsed JSON), found with an explicit stack, never by recursion, so no
 * depth overflows it. It stops at the first level past `max`.
 */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [node, depth] = top
    if (typeof node !== 'object' || node === null) continue
    if (depth === max) return true
    for (const child of Object.values(node)) stack.push([child, depth + 1])
  }
  return false
}
