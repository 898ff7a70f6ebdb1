import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io'

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
  // Listeners shared by every connection of this engine, called with the
  // connection as `this`: no closure, and no per-connection copy of the settings.
  function onPacketCreate(this: EngineSocket, packet: { data?: unknown }): void {
    const queued = (pending.get(this) ?? 0) + sizeOf(packet.data)
    pending.set(this, queued)
    const ws = (this.transport as unknown as { socket?: WsLike }).socket
    const total = queued + (ws?.bufferedAmount ?? 0)
    if (total <= settings.maxQueuedBytes) return
    this.off('packetCreate', onPacketCreate)
    closeNow(this, ws)
    settings.onExceeded({ queuedBytes: total, transport: this.transport.name })
  }
  engine.on('connection', (conn: EngineSocket) => {
    pending.set(conn, 0)
    conn.on('packetCreate', onPacketCreate)
    conn.on('flush', onFlush)
  })
}

/** The write buffer went to the transport: from now on ws counts those bytes. */
function onFlush(this: EngineSocket): void {
  pending.set(this, 0)
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
