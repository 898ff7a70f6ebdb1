import type { Namespace, Server, Socket } from 'socket.io'
import type { SocketData } from './session/socket-auth.ts'

/** The realtime Socket.IO server, typed once (STYLE §21). */
export type RealtimeIo = Server<any, any, any, SocketData>
/** A namespace of {@link RealtimeIo}. */
export type RealtimeNamespace = Namespace<any, any, any, SocketData>
/** A connection of {@link RealtimeIo}. */
export type RealtimeSocket = Socket<any, any, any, SocketData>
