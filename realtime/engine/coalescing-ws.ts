import { createRequire } from 'node:module'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type * as Ws from 'ws'

// The `ws` Engine.IO itself depends on, so the server below is the one it
// would have built by default, version for version.
const requireFromEngine = createRequire(createRequire(import.meta.url).resolve('engine.io'))
const { WebSocket, WebSocketServer } = requireFromEngine('ws') as typeof Ws

/**
 * A connection whose writes are coalesced per tick: the first frame sent in
 * a tick corks the TCP socket, and it is uncorked once the ticks already
 * queued have run. Two fields per connection, no closures.
 */
class CoalescingWebSocket extends WebSocket {
  /** The TCP socket under the connection, set when the upgrade completes. */
  raw: Duplex | undefined = undefined
  corked = false

  // ws's send has two overloads; the arguments pass through untouched.
  override send(data: unknown, options?: unknown, cb?: unknown): void {
    const raw = this.raw
    if (raw !== undefined && !this.corked && raw.writable) {
      this.corked = true
      raw.cork()
      // Queued behind the packets Socket.IO has already scheduled for this
      // read (it dispatches each in its own tick), so their replies join in.
      process.nextTick(uncork, this)
    }
    ;(super.send as (...args: unknown[]) => void)(data, options, cb)
  }
}

function uncork(ws: CoalescingWebSocket): void {
  ws.corked = false
  ws.raw?.uncork()
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

  override handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (client: Ws.WebSocket, request: IncomingMessage) => void,
  ): void {
    super.handleUpgrade(request, socket, head, (client, req) => {
      ;(client as CoalescingWebSocket).raw = socket
      callback(client, req)
    })
  }
}
