import { AppError } from '../../shared/errors.ts'
import type { SocketMiddleware } from './handshake.ts'
import type { RealtimeContext } from '../context.ts'
import { connectError } from '../errors.ts'

/**
 * The handshake step that refuses while this node cannot admit anyone: a
 * draining node takes no new connections, and until the feed has been read
 * once a handshake could carry a token a missed event covers. Both refuse as
 * `unavailable` (retryable), so the client tries again, elsewhere or later.
 *
 * @param ctx - the server's shared parts
 * @example
 * ```ts
 * nsp.use(admissionGate(ctx))
 * ```
 */
export function admissionGate(ctx: RealtimeContext): SocketMiddleware {
  return function admissionGate(_socket, next) {
    const reason = ctx.state.draining
      ? 'node draining'
      : ctx.feed && !ctx.feed.synced()
        ? 'revocation feed not yet read'
        : undefined
    if (reason === undefined) return next()
    ctx.metrics.handshakes.inc({ outcome: 'unavailable' })
    next(connectError(new AppError('unavailable', reason)))
  }
}
