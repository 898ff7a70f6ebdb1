import type { Server as HttpServer } from 'node:http'
import { Server } from 'socket.io'
import type { RedisCluster } from './cluster/redis-cluster.ts'
import { CoalescingWebSocketServer } from './engine/coalescing-ws.ts'
import { installHeartbeatGuard } from './engine/heartbeat.ts'
import { guardSlowConsumers } from './engine/slow-consumer.ts'
import { skipCorsOnUpgrade } from './engine/upgrade-middleware.ts'
import { frameSizeParser, MAX_FRAME_BYTES } from './messages/frame-size.ts'
import type { RealtimeIo } from './types.ts'

/** The Socket.IO settings a realtime server is created with. */
export interface IoOptions {
  /** Socket.IO path. */
  path: string
  /** Time a client may take between opening a connection and sending CONNECT, ms. */
  connectTimeoutMs: number
  /** Browser origins allowed (CORS); `'*'` for any. */
  allowedOrigins: ReadonlySet<string> | '*'
  /** Let cross-site pages send credentials: only where a cookie can carry the token. @default false */
  corsCredentials?: boolean
  /** Connection state recovery, re-authenticated by the handshake chain. */
  connectionStateRecovery: false | { maxDisconnectionDurationMs: number }
  /** The Redis adapter, when clustered. */
  cluster: RedisCluster | undefined
  /** Engine.IO heartbeat. @default Socket.IO's (25 s interval, 20 s timeout) */
  heartbeat?: { pingIntervalMs: number; pingTimeoutMs: number }
  /** Most bytes queued for one connection before it is closed. @default MAX_QUEUED_BYTES_PER_SOCKET */
  maxQueuedBytesPerSocket?: number
  /** Called for each connection closed as a slow consumer (metric and log). */
  onSlowConsumer?: (info: { queuedBytes: number; transport: string }) => void
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
  // Pongs count only when they answer a ping this node sent (engine.io patched once per process).
  installHeartbeatGuard()
  const io: RealtimeIo = new Server(httpServer, {
    path: options.path,
    serveClient: false,
    // The default wire format; it also notes each event's frame size for the envelope size check.
    parser: frameSizeParser,
    // Engine.IO v3 clients predate the protocol's handshake `auth`; refuse them.
    allowEIO3: false,
    perMessageDeflate: false,
    httpCompression: false,
    connectTimeout: options.connectTimeoutMs,
    ...(options.heartbeat && {
      pingInterval: options.heartbeat.pingIntervalMs,
      pingTimeout: options.heartbeat.pingTimeoutMs,
    }),
    // A frame that cannot hold a valid envelope, however escaped, is dropped before it is parsed.
    maxHttpBufferSize: MAX_FRAME_BYTES,
    // Replies to a batch of pipelined messages leave in one write.
    wsEngine: CoalescingWebSocketServer,
    // Credentials only where a cookie can carry the token: otherwise no cross-site page needs them.
    cors: {
      origin: allowedOrigins === '*' ? true : [...allowedOrigins],
      credentials: options.corsCredentials ?? false,
    },
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
  // CORS is for HTTP (long-polling); an upgrade skips it, as plain Socket.IO's does.
  skipCorsOnUpgrade(io.engine)
  guardSlowConsumers(io.engine, {
    ...(options.maxQueuedBytesPerSocket !== undefined && {
      maxQueuedBytes: options.maxQueuedBytesPerSocket,
    }),
    ...(options.onSlowConsumer && { onExceeded: options.onSlowConsumer }),
  })
  return io
}
