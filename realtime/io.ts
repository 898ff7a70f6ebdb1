import type { Server as HttpServer } from 'node:http'
import { Server } from 'socket.io'
import { MAX_ENVELOPE_BYTES } from '../shared/constants.ts'
import type { RedisCluster } from './cluster/redis-cluster.ts'
import { CoalescingWebSocketServer } from './engine/coalescing-ws.ts'
import { frameSizeParser } from './messages/frame-size.ts'
import type { RealtimeIo } from './types.ts'
import { PACKET_FRAMING_BYTES } from './constants.ts'

/** The Socket.IO settings a realtime server is created with. */
export interface IoOptions {
  /** Socket.IO path. */
  path: string
  /** Time a client may take between opening a connection and sending CONNECT, ms. */
  connectTimeoutMs: number
  /** Browser origins allowed (CORS); `'*'` for any. */
  allowedOrigins: ReadonlySet<string> | '*'
  /** Connection state recovery, re-authenticated by the handshake chain. */
  connectionStateRecovery: false | { maxDisconnectionDurationMs: number }
  /** The Redis adapter, when clustered. */
  cluster: RedisCluster | undefined
}

/**
 * Create the Socket.IO server on `httpServer`, with the transport settings
 * the contract needs (docs/protocol.md §5).
 *
 * @param httpServer - the HTTP server it shares with the health endpoints
 * @param options - {@link IoOptions}
 * @example
 * ```ts
 * const io = createIo(httpServer, { path: '/socket.io', connectTimeoutMs: 5000, allowedOrigins: '*', connectionStateRecovery: false, cluster: undefined })
 * ```
 */
export function createIo(httpServer: HttpServer, options: IoOptions): RealtimeIo {
  const { allowedOrigins, cluster, connectionStateRecovery } = options
  return new Server(httpServer, {
    path: options.path,
    serveClient: false,
    // The default wire format; it also notes each event's frame size for the envelope size check.
    parser: frameSizeParser,
    // Engine.IO v3 clients predate the protocol's handshake `auth`; refuse them.
    allowEIO3: false,
    perMessageDeflate: false,
    httpCompression: false,
    connectTimeout: options.connectTimeoutMs,
    // A frame over the envelope limit plus packet framing is dropped before it is parsed.
    maxHttpBufferSize: MAX_ENVELOPE_BYTES + PACKET_FRAMING_BYTES,
    // Replies to a batch of pipelined messages leave in one write.
    wsEngine: CoalescingWebSocketServer,
    cors: { origin: allowedOrigins === '*' ? true : [...allowedOrigins], credentials: true },
    cleanupEmptyChildNamespaces: true,
    ...(cluster && { adapter: cluster.adapter }),
    ...(connectionStateRecovery && {
      connectionStateRecovery: {
        maxDisconnectionDuration: connectionStateRecovery.maxDisconnectionDurationMs,
        // Socket.IO's default skips middleware on recovery, letting a revoked user back in.
        skipMiddlewares: false,
      },
    }),
  })
}
