import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import type * as Ws from 'ws'

// The `ws` Engine.IO itself depends on, so the server below is the one it
// would have built by default, version for version.
const requireFromEngine = createRequire(createRequire(import.meta.url).resolve('engine.io'))
const { WebSocket, WebSocketServer } = requireFromEngine('ws') as typeof Ws

/** The TCP socket ws keeps for a connection (private to ws, held as `_socket` since ws 1). */
type WithRawSocket = { _socket: Duplex | null }

/**
 * A connection whose writes are coalesced per tick: the first frame sent in
 * a tick corks the TCP socket, and it is uncorked once the ticks already
 * queued have run. No field of its own and no closure: ws already holds the
 * TCP socket, and the socket's cork count tells whether this tick corked it
 * (ws corks only around the writes of one frame, and uncorks before it returns).
 */
class CoalescingWebSocket extends WebSocket {
  // ws's send has two overloads; the arguments pass through untouched.
  override send(data: unknown, options?: unknown, cb?: unknown): void {
    const raw = (this as unknown as WithRawSocket)._socket
    if (raw !== null && raw.writableCorked === 0 && raw.writable) {
      raw.cork()
      // Queued behind the packets Socket.IO has already scheduled for this
      // read (it dispatches each in its own tick), so their replies join in.
      // One tick uncorks every connection corked meanwhile: a broadcast to
      // a room corks each member once and queues one tick, not one each.
      if (corked.push(raw) === 1) process.nextTick(uncorkAll)
    }
    ;(super.send as (...args: unknown[]) => void)(data, options, cb)
  }
}

/** Connections corked since the last {@link uncorkAll}. */
let corked: Duplex[] = []

function uncorkAll(): void {
  const list = corked
  // A connection corked by a callback of these writes starts a batch of its own.
  corked = []
  for (const raw of list) raw.uncork()
}

/**
 * Engine.IO's WebSocket server (its `wsEngine` option), with each
 * connection's writes coalesced per tick. A client that pipelines messages
 * gets its acknowledgements in one `writev` per batch rather than one system
 * call each, which is most of what a small message costs the server.
 */
export class CoalescingWebSocketServer extends WebSocketServer {
  constructor(options: Ws.ServerOptions, callback?: () => void) {
    super({ ...options, WebSocket: CoalescingWebSocket }, callback)
  }
}
