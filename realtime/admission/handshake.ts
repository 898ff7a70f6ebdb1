import { AppError } from '../../shared/errors.ts'
import { connectError, rateLimited, toRealtimeError } from '../errors.ts'
import type { RealtimeContext } from '../context.ts'
import type { ConnectionLimits } from '../limits/connection-limits.ts'
import type { Sessions } from '../session/sessions.ts'
import { writeIdentity } from './write-identity.ts'
import { firstHeaderValue } from './forwarded.ts'
import { originAllowed, ownOrigin } from './origin-guard.ts'
import { extractToken, type TokenSourceOptions } from './token-source.ts'
import type { TokenVerifier, VerifiedToken } from '../auth/token-verifier.ts'
import type { RealtimeSocket } from '../types.ts'
import type { DpopCheck } from './dpop.ts'
import { CONNECTION_CAP_RETRY_AFTER_MS } from '../constants.ts'

/** A Socket.IO namespace middleware. */
export type SocketMiddleware = (socket: RealtimeSocket, next: (err?: Error) => void) => void

/** Options of {@link handshakeChain}. */
export interface HandshakeOptions {
  allowedOrigins: ReadonlySet<string> | '*'
  limits: ConnectionLimits
  /** Keeps each connection's token (never in `socket.data`, which recovery may persist). */
  sessions: Pick<Sessions, 'holdToken'>
  verifier: TokenVerifier
  tokenSource: TokenSourceOptions
  /** Use the first `X-Forwarded-For` address (only behind a proxy you run). */
  trustProxy: boolean
  /** `redirect` for codes whose move is "log in". */
  loginUrl?: string
  now: () => number
  /** Called with each refusal's code (for metrics) and unexpected errors. */
  onRefused?: (code: string, unexpected: unknown) => void
  /** Called once a socket has its identity, with the verified token (compat mode's `decoded_token`). */
  onAccepted?: (socket: RealtimeSocket, verified: VerifiedToken) => void
  /** The proof check of a DPoP-bound token (docs/protocol.md §15). Without it a bound token is refused. */
  dpop?: DpopCheck
}

/**
 * The connection middleware the service puts before any of the
 * application's (docs/protocol.md §5): origin guard, connection rate limit, token
 * verification (with the per-user cap). On success `socket.data.auth` holds
 * the verified identity.
 */
export function handshakeChain(options: HandshakeOptions): SocketMiddleware[] {
  const refuse = (next: (err?: Error) => void, err: unknown) => {
    const { error, unexpected } = toRealtimeError(err)
    options.onRefused?.(error.code, unexpected ? err : undefined)
    next(connectError(error, options.loginUrl === undefined ? {} : { loginUrl: options.loginUrl }))
  }

  const originGuard: SocketMiddleware = function originGuard(socket, next) {
    const header = socket.handshake.headers.origin
    const origin = typeof header === 'string' ? header : undefined
    const { allowedOrigins } = options
    // The server's own origin (a URL parse) is worked out only when nothing
    // cheaper admits the handshake: most carry no Origin, or a listed one.
    const own =
      origin === undefined || allowedOrigins === '*' || allowedOrigins.has(origin)
        ? undefined
        : ownOrigin(socket.handshake, options.trustProxy)
    if (originAllowed(allowedOrigins, origin, own)) return next()
    refuse(next, new AppError('origin_forbidden', 'origin neither its own nor allowed'))
  }

  const connectionRate: SocketMiddleware = function connectionRate(socket, next) {
    const wait = options.limits.admitAddress(
      clientAddress(socket, options.trustProxy),
      options.now(),
    )
    if (wait === 0) return next()
    refuse(next, rateLimited('connection rate or per-address cap', wait))
  }

  const verifyToken: SocketMiddleware = function verifyToken(socket, next) {
    let token: string
    try {
      token = extractToken(socket.handshake as never, options.tokenSource)
    } catch (err) {
      return refuse(next, err)
    }
    const admit = (verified: VerifiedToken, jkt?: string) => {
      try {
        acceptVerified(socket, verified, options, jkt)
      } catch (err) {
        return refuse(next, err)
      }
      options.onAccepted?.(socket, verified)
      next()
    }
    const proceed = (verified: VerifiedToken) => {
      // A bound token (docs/protocol.md §15) costs one proof check; a bearer one nothing more.
      const bound = verified.claims.cnf?.jkt
      if (bound === undefined || !options.dpop) return admit(verified)
      options.dpop.handshake(socket.handshake, verified.token, bound).then(
        (jkt) => admit(verified, jkt),
        (err) => refuse(next, err),
      )
    }
    // A token seen recently (a reconnect) is admitted in this tick; a new one waits for its signature check.
    let recalled: VerifiedToken | undefined
    try {
      recalled = options.verifier.recall(token)
    } catch (err) {
      return refuse(next, err)
    }
    if (recalled) return proceed(recalled)
    options.verifier.verify(token).then(proceed, (err) => refuse(next, err))
  }

  return [originGuard, connectionRate, verifyToken]
}

/**
 * The `onRefused` of the handshake and compat mode: count each refusal by
 * code, log unexpected failures as errors and the rest at debug.
 *
 * @param ctx - the server's metrics and logger
 * @example
 * ```ts
 * handshakeChain({ ...options, onRefused: handshakeRefused(ctx) })
 * ```
 */
export function handshakeRefused(
  ctx: Pick<RealtimeContext, 'metrics' | 'logger'>,
): (code: string, unexpected: unknown) => void {
  return function onRefused(code, unexpected) {
    ctx.metrics.handshakes.inc({ outcome: code })
    if (unexpected)
      ctx.logger('error', 'handshake failed unexpectedly', { error: String(unexpected) })
    else ctx.logger('debug', 'handshake refused', { code })
  }
}

/**
 * Take a verified token as the socket's identity: the per-user cap, then
 * `socket.data` (written here once; the connection handler and everything
 * after read it there) and the token handed to the sessions. Shared by the
 * handshake and the socketio-jwt compat mode's `authenticate`. Nothing else
 * keeps the verified claims.
 *
 * @param socket - the socket being admitted
 * @param verified - the token that passed every check
 * @param admission - the per-user cap and where the connection's token is kept
 * @param jkt - the key a proof showed the client holds, for a DPoP-bound token
 * @throws AppError `dpop_required` for a bound token without `jkt`; `rate_limited` when the user is at the per-user cap
 * @example
 * ```ts
 * acceptVerified(socket, await verifier.verify(token), { limits, sessions })
 * ```
 */
export function acceptVerified(
  socket: RealtimeSocket,
  verified: VerifiedToken,
  admission: Pick<HandshakeOptions, 'limits' | 'sessions'>,
  jkt?: string,
): void {
  // The one place a socket gets an identity: a bound token never gets in unproven.
  if (verified.claims.cnf !== undefined && jkt !== verified.claims.cnf.jkt)
    throw new AppError('dpop_required', 'bound token without a proof')
  if (!admission.limits.reserveUser(verified.claims.sub, socket)) {
    throw rateLimited('per-user connection cap', CONNECTION_CAP_RETRY_AFTER_MS)
  }
  writeIdentity(socket.data, verified)
  if (jkt === undefined) delete socket.data.jkt
  else socket.data.jkt = jkt
  admission.sessions.holdToken(socket, verified.token)
}

/** The client's address: the socket's peer, or the first `X-Forwarded-For` hop when the proxy is trusted. */
export function clientAddress(socket: RealtimeSocket, trustProxy: boolean): string {
  const forwarded = trustProxy
    ? firstHeaderValue(socket.handshake.headers['x-forwarded-for'])
    : undefined
  return forwarded ?? socket.handshake.address
}
