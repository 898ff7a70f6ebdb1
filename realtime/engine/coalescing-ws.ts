import { createRequire } from 'node:module'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import type * as Ws from 'ws'

// The `ws` Engine.IO itself depends on, so the server below is the one it
// would have built by default, version for version.
const requireFromEngine = createRequire(createRequire(import.meta.url).resolve('engine.io'))
const { WebSocketServer } = requireFromEngine('ws') as typeof Ws

/**
 * Engine.IO's WebSocket server (its `wsEngine` option), with the writes of
 * each connection coalesced per tick: the first frame sent in a tick corks
 * the TCP socket, and the socket is uncorked once the ticks already queued
 * have run. A client that pipelines messages gets its acknowledgements in
 * one `writev` per batch rather than one system call each, which is most of
 * what a small message costs the server.
 */
export class CoalescingWebSocketServer extends WebSocketServer {
  override handleUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback: (client: Ws.WebSocket, request: IncomingMessage) => void,
  ): void {
    super.handleUpgrade(request, socket, head, (client, req) => {
      coalesceWrites(client, socket)
      callback(client, req)
    })
  }
}

function coalesceWrites(client: Ws.WebSocket, socket: Duplex): void {
  const send = client.send.bind(client) as (...args: unknown[]) => void
  let corked = false
  const uncork = () => {
    corked = false
    socket.uncork()
  }
  client.send = ((...args: unknown[]) => {
    if (!corked && socket.writable) {
      corked = true
      socket.cork()
      // Queued behind the packets Socket.IO has already scheduled for this
      // read (it dispatches each in its own tick), so their replies join in.
      process.nextTick(uncork)
    }
    send(...args)
  }) as Ws.WebSocket['send']
}
