import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io'
import { EngineSocketClass as Socket } from './engine-socket.ts'

/** Default bound on what a node holds for one connection, bytes (issue 15 item 1; Centrifugo's default). */
export const MAX_QUEUED_BYTES_PER_SOCKET = 1024 * 1024

/** Options of {@link guardSlowConsumers}. */
export interface SlowConsumerOptions {
  /** Most bytes queued for one connection before it is closed. @default {@link MAX_QUEUED_BYTES_PER_SOCKET} */
  maxQueuedBytes?: number
  /** Called once per connection closed for being over the bound, with what it held. */
  onExceeded?: (info: { queuedBytes: number; transport: string }) => void
}

/** What a connection holds outside engine.io's write buffer: ws's send queue and the TCP socket's. */
interface WsLike {
  bufferedAmount?: number
  terminate?: () => void
}

/** Per connection: bytes created since the write buffer was last handed to the transport. */
const pending = new WeakMap<EngineSocket, number>()

/**
 * Bound what the node queues for each Engine.IO connection (docs/protocol.md
 * §5; issue 15 item 1). A client that stops reading leaves every packet sent
 * to it in the connection's write buffer (the transport stays unwritable) and
 * in the websocket's own send queue; nothing else ever frees them. Each new
 * packet counts its length (UTF-16 units for text: about its bytes, and what
 * the heap holds for it) against the bound together with the websocket's
 * `bufferedAmount` (ws's queue plus the TCP socket's `writableLength`). Past
 * the bound the connection is closed at once, its buffer discarded and its
 * socket destroyed: a client that does not read would never read an
 * `rt:error` either. Nothing more is queued for it afterwards (engine.io
 * drops packets for a closing connection).
 *
 * @param engine - `io.engine`
 * @param options - {@link SlowConsumerOptions}
 * @example
 * ```ts
 * guardSlowConsumers(io.engine, { onExceeded: () => metrics.slowConsumerDisconnects.inc() })
 * ```
 */
export function guardSlowConsumers(engine: EngineServer, options: SlowConsumerOptions = {}): void {
  const settings: Required<SlowConsumerOptions> = {
    maxQueuedBytes: options.maxQueuedBytes ?? MAX_QUEUED_BYTES_PER_SOCKET,
    onExceeded: options.onExceeded ?? (() => {}),
  }
  if (!(settings.maxQueuedBytes > 0))
    throw new TypeError('guardSlowConsumers: maxQueuedBytes must be positive')
  guarded.set(engine, settings)
  installSendPacketSeam()
  // Engine.IO tells its server of every flush: one listener for all connections.
  engine.on('flush', onFlush)
}

/** The settings of each guarded Engine.IO server, found from a connection's `server`. */
const guarded = new WeakMap<EngineServer, Required<SlowConsumerOptions>>()

/** The private parts of engine.io's Socket (6.6) the guard reads. */
interface EngineSocketInternals {
  server: EngineServer
  readyState: string
  sendPacket(type: string, data?: unknown, options?: unknown, callback?: unknown): void
}

const PATCHED = Symbol.for('edgegate.engine.slow-consumer')

/**
 * Count each packet as engine.io's `sendPacket` creates it, before it joins the write
 * buffer. A prototype seam (once per process, as the heartbeat guard's) rather than a
 * `packetCreate` listener per connection: two more event names on every connection's
 * listener table cost about 100 bytes a socket. Sockets of servers not guarded pass through.
 */
function installSendPacketSeam(): void {
  const proto = Socket.prototype as unknown as EngineSocketInternals & { [PATCHED]?: true }
  if (proto[PATCHED]) return
  const sendPacket = proto.sendPacket
  proto.sendPacket = function guardedSendPacket(this: EngineSocketInternals, ...args) {
    const settings = guarded.get(this.server)
    // engine.io itself drops packets for a closing or closed connection.
    const open = this.readyState !== 'closing' && this.readyState !== 'closed'
    if (settings && open && overBound(this as unknown as EngineSocket, settings, args[1])) return
    sendPacket.apply(this, args)
  }
  proto[PATCHED] = true
}

/** Count `data` against the bound; past it, close the connection and say so (true). */
function overBound(
  conn: EngineSocket,
  settings: Required<SlowConsumerOptions>,
  data: unknown,
): boolean {
  const queued = (pending.get(conn) ?? 0) + sizeOf(data)
  pending.set(conn, queued)
  const ws = (conn.transport as unknown as { socket?: WsLike }).socket
  const total = queued + (ws?.bufferedAmount ?? 0)
  if (total <= settings.maxQueuedBytes) return false
  // Counted once: nothing this connection is sent from now on can exceed again.
  pending.set(conn, Number.NEGATIVE_INFINITY)
  closeNow(conn, ws)
  settings.onExceeded({ queuedBytes: total, transport: conn.transport.name })
  return true
}

/** The write buffer went to the transport: from now on ws counts those bytes. */
function onFlush(conn: EngineSocket): void {
  if (pending.get(conn) !== Number.NEGATIVE_INFINITY) pending.delete(conn)
}

function closeNow(conn: EngineSocket, ws: WsLike | undefined): void {
  // Discard: a plain close waits for the buffer to drain, which never happens here.
  conn.close(true)
  // ws's close handshake would hold the socket (and its buffer) for 30 s more.
  ws?.terminate?.()
}

function sizeOf(data: unknown): number {
  if (typeof data === 'string') return data.length
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  return 0
}
