import { clientAddress, type SocketMiddleware } from './handshake.ts'
import type { SocketioJwtCompat } from './socketio-jwt-compat.ts'
import type { RealtimeContext } from '../context.ts'
import type { RealtimeNamespace, RealtimeSocket } from '../types.ts'
import type { RecoveryGate } from '../session/recovery-gate.ts'

/** The service's handshake steps, in the order they run (docs/protocol.md §5). */
export interface ServiceChain {
  originGuard: SocketMiddleware
  connectionRate: SocketMiddleware
  admissionGate: SocketMiddleware
  verifyToken: SocketMiddleware
}

/** What {@link createNamespaces} wires into every namespace. */
export interface NamespaceParts {
  chain: ServiceChain
  /** Installs the per-message pipeline on an admitted socket. */
  install: (socket: RealtimeSocket) => void
  /** socketio-jwt's post-connect flow, when enabled. */
  compat: SocketioJwtCompat | undefined
  /** Connection state recovery's re-authentication, when enabled. */
  recovery: RecoveryGate | undefined
}

/** The namespaces of a realtime server. */
export interface Namespaces {
  /** Add the application's middleware to a namespace (created if need be), after the service's chain. */
  use(name: string, middleware: SocketMiddleware | SocketMiddleware[]): void
}

/**
 * Give `/` and every namespace created later the same connection path: the
 * service's handshake chain, then the application's middleware (through
 * Socket.IO's own runner, `nsp.use`), then admission of the connected socket
 * (limits, session, message pipeline, metrics) and its release on disconnect.
 *
 * @param ctx - the server's shared parts
 * @param parts - {@link NamespaceParts}
 * @example
 * ```ts
 * const namespaces = createNamespaces(ctx, { chain, install, compat: undefined, recovery: undefined })
 * namespaces.use('/', authorize)
 * ```
 */
export function createNamespaces(ctx: RealtimeContext, parts: NamespaceParts): Namespaces {
  const { io, limits, logger, metrics, sessions, trustProxy } = ctx
  const { chain, compat, install, recovery } = parts
  // Kept only for compat mode, whose pending sockets skip the namespace's
  // middleware at the handshake and run it once they have authenticated.
  const userMiddleware = new Map<string, SocketMiddleware[]>()

  // The handshake wrote the identity to socket.data; from here on it is read there.
  const admit = (socket: RealtimeSocket) => {
    limits.open(clientAddress(socket, trustProxy), socket.data.auth.sub, socket.id)
    sessions.attach(socket)
    install(socket)
    metrics.handshakes.inc({ outcome: 'ok' })
    metrics.connections.inc()
    socket.on('disconnect', onDisconnect)
    const delivered = recovery?.complete(socket) ?? 0
    if (delivered > 0) logger('debug', 'recovered session re-authenticated', { delivered })
  }
  // One listener shared by every socket (it is called with the socket as
  // `this`), rather than a closure each. The user cannot change in-band, so
  // the connection is released under the same address and user it was counted.
  function onDisconnect(this: RealtimeSocket) {
    sessions.detach(this)
    limits.close(clientAddress(this, trustProxy), this.data.auth.sub)
    metrics.connections.dec()
  }

  const setUp = (nsp: RealtimeNamespace) => {
    const verify = compat ? compat.gate(chain.verifyToken) : chain.verifyToken
    for (const fn of [chain.originGuard, chain.connectionRate, chain.admissionGate, verify]) {
      nsp.use(fn)
    }
    recovery?.install(nsp)
    nsp.on('connection', (socket) => {
      if (compat?.isPending(socket) && !ctx.state.draining) {
        const middleware: SocketMiddleware = (s, next) =>
          runInOrder(userMiddleware.get(nsp.name) ?? [], s, next)
        return compat.hold(socket, { middleware, admit: () => admit(socket) })
      }
      if (!socket.data.auth || ctx.state.draining) {
        if (socket.data.auth) limits.releaseUser(socket.data.auth.sub, socket.id)
        socket.disconnect(true)
        return
      }
      admit(socket)
    })
  }
  setUp(io.of('/'))
  io.on('new_namespace', (nsp) => {
    if (nsp.name !== '/') setUp(nsp)
  })

  return {
    use(name, middleware) {
      const nsp = io.of(name)
      const list = userMiddleware.get(name) ?? []
      for (const fn of [middleware].flat()) {
        list.push(fn)
        // A socket yet to authenticate (compat) has no identity: its user middleware runs once it has one.
        nsp.use(function userMiddleware(socket, next) {
          if (compat?.isPending(socket)) return next()
          guarded(fn, socket, (err) => {
            // A refusal gives the user's reserved slot back at once, not when it would expire.
            if (err) limits.releaseUser(socket.data.auth.sub, socket.id)
            next(err)
          })
        })
      }
      userMiddleware.set(name, list)
    },
  }
}

/** Run `fn`, turning a throw into `next(err)` as the hand-written chain did (Socket.IO's runner does not catch). */
function guarded(fn: SocketMiddleware, socket: RealtimeSocket, next: (err?: Error) => void): void {
  try {
    fn(socket, next)
  } catch (thrown) {
    next(thrown instanceof Error ? thrown : new Error(String(thrown)))
  }
}

/**
 * Run a namespace's application middleware for a socket that authenticated
 * after its handshake (compat mode). Socket.IO's runner (`Namespace.run`) is
 * private and runs the whole chain, which that socket has already passed.
 */
function runInOrder(
  list: SocketMiddleware[],
  socket: RealtimeSocket,
  done: (err?: Error) => void,
): void {
  let i = 0
  const step = (err?: Error) => {
    if (err || i >= list.length) return done(err)
    guarded(list[i++]!, socket, step)
  }
  step()
}
