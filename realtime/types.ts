import type { Namespace, Server, Socket } from 'socket.io'
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/events.ts'
import type { RevocationEvent } from '../shared/claims.ts'
import type { CLUSTER_DISCONNECT_EVENT, CLUSTER_REVOCATION_EVENT } from './constants.ts'
import type { SocketData } from './identity.ts'

/** A revocation as the server applies it (docs/protocol.md §6). */
export type Revocation = Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>

/** The `unauthorized` payload: socketio-jwt's error shape, flat and under `data` (its README reads `msg.data.type`). */
export interface UnauthorizedPayload {
  message: string
  code: 'invalid_token'
  type: 'UnauthorizedError'
  data: { message: string; code: 'invalid_token'; type: 'UnauthorizedError' }
}

/** What compat mode sends a socketio-jwt client besides the contract's events. */
export interface SocketioJwtCompatEvents {
  /** Authentication failed or timed out; the socket is disconnected next. */
  unauthorized: (payload: UnauthorizedPayload, ack: () => void) => void
  /** `authenticate` succeeded; the socket is now like a handshake-authenticated one. */
  authenticated: () => void
}

/** Events the realtime nodes of one cluster send each other (`serverSideEmit`). */
export interface InterServerEvents {
  /** A revocation from the edge, applied on the node that received it, for the others to apply locally. */
  [CLUSTER_REVOCATION_EVENT]: (event: Revocation) => void
  /** A server-API disconnect (docs/protocol.md §8), applied on the node that took it, for the others to apply locally. */
  [CLUSTER_DISCONNECT_EVENT]: (event: {
    kind: 'user' | 'session'
    id: string
    retryable: boolean
  }) => void
}

/** What the server sends: the contract's events, plus socketio-jwt's in compat mode. */
export type RealtimeServerEvents = ServerToClientEvents & SocketioJwtCompatEvents

/**
 * The realtime Socket.IO server, typed once from the shared event maps
 * (STYLE §21), so every `emit` and `on` is checked against them.
 */
export type RealtimeIo = Server<
  ClientToServerEvents,
  RealtimeServerEvents,
  InterServerEvents,
  SocketData
>
/** A namespace of {@link RealtimeIo}. */
export type RealtimeNamespace = Namespace<
  ClientToServerEvents,
  RealtimeServerEvents,
  InterServerEvents,
  SocketData
>
/** A connection of {@link RealtimeIo}. */
export type RealtimeSocket = Socket<
  ClientToServerEvents,
  RealtimeServerEvents,
  InterServerEvents,
  SocketData
>
