import { ServerResponse, type IncomingMessage } from 'node:http'
import type { Server as EngineServer } from 'engine.io'

/** What Engine.IO keeps protected and this module reads: its middleware list and the method that runs it. */
interface EngineMiddlewareInternals {
  middlewares: unknown[]
  _applyMiddlewares(req: IncomingMessage, res: unknown, callback: (err?: unknown) => void): void
}

/**
 * Let WebSocket upgrades skip Engine.IO's middleware while that middleware is
 * only the CORS handler of Socket.IO's `cors` option, as plain Socket.IO's
 * upgrades (no middleware) do.
 *
 * Engine.IO runs its middleware on upgrades too: a promise chain, a stand-in
 * response and the `cors` package for every connection, about 2 % of a
 * handshake's server CPU in the bench's profile. CORS does not apply to a
 * WebSocket: a browser applies no CORS check to the 101, and the origin guard
 * is what refuses a foreign `Origin` (docs/protocol.md §5). HTTP requests
 * (long-polling and preflights) still get CORS. Middleware an application adds
 * later (`io.engine.use`) runs on upgrades again, the CORS handler with it.
 *
 * @param engine - the Engine.IO server of a Socket.IO server created with a `cors` option
 * @example
 * ```ts
 * const io = new Server(httpServer, { cors: { origin: true } })
 * skipCorsOnUpgrade(io.engine)
 * ```
 */
export function skipCorsOnUpgrade(engine: EngineServer): void {
  const internals = engine as unknown as EngineMiddlewareInternals
  const ownCount = internals.middlewares.length
  const apply = internals._applyMiddlewares.bind(engine)
  internals._applyMiddlewares = function applyMiddlewares(req, res, callback) {
    // An upgrade's `res` is Engine.IO's stand-in, not a ServerResponse.
    if (!(res instanceof ServerResponse) && internals.middlewares.length === ownCount)
      return callback()
    apply(req, res, callback)
  }
}
