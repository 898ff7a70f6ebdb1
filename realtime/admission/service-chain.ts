import type { RealtimeContext } from '../context.ts'
import type { RealtimeServerOptions } from '../server-options.ts'
import { admissionGate } from './admission-gate.ts'
import type { ServiceChain } from './namespaces.ts'
import { handshakeChain, handshakeRefused } from './handshake.ts'
import { createSocketioJwtCompat, type SocketioJwtCompat } from './socketio-jwt-compat.ts'
import type { DpopCheck } from './dpop.ts'

/**
 * The service's handshake chain (docs/protocol.md §5: origin guard,
 * connection rate, admission, token verification) and, when enabled,
 * socketio-jwt's post-connect flow, which shares its verifier, limits and
 * refusal accounting.
 *
 * @param ctx - the server's shared parts
 * @param options - origins, token sources, login URL, the compat switch and the DPoP check
 * @example
 * ```ts
 * const { chain, compat } = serviceChain(ctx, { ...options, allowedOrigins })
 * ```
 */
export function serviceChain(
  ctx: RealtimeContext,
  options: Pick<RealtimeServerOptions, 'tokenSource' | 'loginUrl' | 'socketioJwtCompat'> & {
    allowedOrigins: ReadonlySet<string> | '*'
    /** The proof check of DPoP-bound tokens (docs/protocol.md §15). */
    dpop?: DpopCheck
  },
): { chain: ServiceChain; compat: SocketioJwtCompat | undefined } {
  const tokenSource = options.tokenSource ?? {}
  const { limits, sessions, verifier } = ctx
  const onRefused = handshakeRefused(ctx)
  const compat = options.socketioJwtCompat
    ? createSocketioJwtCompat({
        ...options.socketioJwtCompat,
        ...{ tokenSource, verifier, limits, sessions, onRefused },
        onOutcome: (outcome) => ctx.metrics.socketioJwtCompat.inc({ outcome }),
      })
    : undefined
  const [originGuard, connectionRate, verifyToken] = handshakeChain({
    ...{ allowedOrigins: options.allowedOrigins, limits, sessions, verifier, tokenSource },
    trustProxy: ctx.trustProxy,
    now: ctx.now,
    ...(options.loginUrl !== undefined && { loginUrl: options.loginUrl }),
    onRefused,
    ...(compat && { onAccepted: compat.decorate }),
    ...(options.dpop && { dpop: options.dpop }),
  })
  return {
    chain: {
      originGuard: originGuard!,
      connectionRate: connectionRate!,
      admissionGate: admissionGate(ctx),
      verifyToken: verifyToken!,
    },
    compat,
  }
}
