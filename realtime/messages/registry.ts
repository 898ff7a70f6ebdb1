import type * as v from 'valibot'
import type { Envelope } from '../../shared/envelope.ts'
import type { SocketAuth } from '../identity.ts'
import type { RealtimeIo, RealtimeSocket } from '../types.ts'

/** What a handler receives: validated data and the caller's verified identity. */
export interface EventContext<D> {
  /** The event's `data`, validated by its schema. */
  data: D
  /** The caller, from its token only. */
  auth: SocketAuth
  /** The whole envelope (id, ts). */
  envelope: Envelope<D>
  socket: RealtimeSocket
  io: RealtimeIo
}

/** An event a client may send. */
export interface EventDefinition<S extends v.GenericSchema = v.GenericSchema> {
  /** The schema of `data` (strict, like the envelope's). */
  schema: S
  /** A scope the caller's token must hold. */
  scope?: string
  /** For a room-targeted event: the room it targets, which the socket must have joined. */
  room?: (data: v.InferOutput<S>) => string
  /** Runs after every check has passed; its return value is the ack's `data`. */
  handler: (ctx: EventContext<v.InferOutput<S>>) => unknown
}

/**
 * Declare an event: its data schema, required scope, target room and
 * handler. Types flow from the schema to the handler.
 *
 * @param definition - {@link EventDefinition}
 * @example
 * ```ts
 * const chatSend = defineEvent({
 *   schema: ChatSendSchema,
 *   scope: 'chat:write',
 *   room: (data) => data.room,
 *   handler: ({ data, auth, io }) => io.to(data.room).emit('chat:message', { ... }),
 * })
 * ```
 */
export function defineEvent<S extends v.GenericSchema>(
  definition: EventDefinition<S>,
): EventDefinition<S> {
  if (typeof definition.handler !== 'function')
    throw new TypeError('defineEvent: handler must be a function')
  return definition
}

/** Events by name. */
export type EventRegistry = ReadonlyMap<string, EventDefinition<any>>

/** Names reserved by the protocol and Socket.IO, which applications cannot register. */
export const RESERVED_EVENTS = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
  'error',
])
