import type { Server as HttpServer } from 'node:http'
import { AppError } from '../../shared/errors.ts'
import type { RealtimeContext } from '../context.ts'
import type { RealtimeSocket } from '../types.ts'
import { SHUTDOWN_TIMEOUT_MS } from '../constants.ts'

/** What shutdown stops besides the shared parts. */
export interface ShutdownParts {
  httpServer: HttpServer
  /** Background work to stop first (key retry, feed, pruning), in order. */
  stop: (() => void)[]
  /** Async work once the sockets are gone, before Redis closes (presence), in order. */
  finish?: (() => Promise<void>)[]
  /** Sockets held outside the sessions (socketio-jwt compat): tell and disconnect them; returns them. */
  drainPending?: () => RealtimeSocket[]
}

/**
 * Drain and close a realtime server: stop accepting (readiness and admission
 * read `draining`), tell every client `rt:error` `unavailable` and disconnect
 * it, let each connection flush, then close Socket.IO, HTTP, timers and Redis.
 * Everything is bounded by `timeoutMs`.
 *
 * @param ctx - the server's shared parts
 * @param parts - {@link ShutdownParts}
 * @returns `close({ timeoutMs })`; `timeoutMs` defaults to {@link SHUTDOWN_TIMEOUT_MS}
 * @example
 * ```ts
 * const close = createShutdown(ctx, { httpServer, stop: [keys.stop] })
 * await close({ timeoutMs: 5000 })
 * ```
 */
export function createShutdown(
  ctx: RealtimeContext,
  parts: ShutdownParts,
): (options?: { timeoutMs?: number }) => Promise<void> {
  return async function close({ timeoutMs = SHUTDOWN_TIMEOUT_MS } = {}) {
    ctx.state.draining = true
    for (const stop of parts.stop) stop()
    const deadline = Date.now() + timeoutMs
    const kicked = ctx.sessions.all()
    for (const socket of kicked)
      ctx.sessions.kick(socket, new AppError('unavailable', 'node draining'))
    if (parts.drainPending) kicked.push(...parts.drainPending())
    // io.close() discards what a connection still has buffered, which would
    // drop the DISCONNECT packet queued behind rt:error: let each one flush.
    await connectionsClosed(kicked, timeoutMs)
    const closed = new Promise<void>((resolve) => {
      ctx.io.close(() => resolve())
    })
    const { httpServer } = parts
    const timer = setTimeout(
      () => httpServer.closeAllConnections(),
      Math.max(0, deadline - Date.now()),
    )
    await closed
    clearTimeout(timer)
    httpServer.closeAllConnections()
    ctx.sessions.close()
    ctx.keySet.close()
    ctx.metrics.close()
    for (const finish of parts.finish ?? []) await finish()
    await ctx.cluster?.close()
  }
}

/** Resolve once the connections of `sockets` have closed, or after `timeoutMs`. */
function connectionsClosed(
  sockets: { conn: RealtimeSocket['conn'] }[],
  timeoutMs: number,
): Promise<void> {
  const open = new Set(sockets.map((s) => s.conn).filter((conn) => conn.readyState !== 'closed'))
  if (open.size === 0) return Promise.resolve()
  return new Promise((resolve) => {
    let left = open.size
    const timer = setTimeout(resolve, timeoutMs)
    for (const conn of open) {
      conn.once('close', () => {
        if (--left > 0) return
        clearTimeout(timer)
        resolve()
      })
    }
  })
}
