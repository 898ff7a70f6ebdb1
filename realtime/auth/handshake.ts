import type { Socket } from 'socket.io'
import { AppError } from '../../shared/errors.ts'
import { connectError, rateLimited, toRealtimeError } from '../errors.ts'
import type { ConnectionLimits } from '../limits/connection-limits.ts'
import type { SocketData } from '../session/socket-auth.ts'
import { socketAuthOf, writeIssuer } from '../session/socket-auth.ts'
import { originAllowed } from './origin-guard.ts'
import { extractToken, type TokenSourceOptions } from './token-source.ts'
import type { TokenVerifier, VerifiedToken } from './token-verifier.ts'

type AnySocket = Socket<any, any, any, SocketData>
/** A Socket.IO namespace middleware. */
export type SocketMiddleware = (socket: AnySocket, next: (err?: Error) => void) => void

/** Options of {@link handshakeChain}. */
export interface HandshakeOptions {
  allowedOrigins: ReadonlySet<string> | '*'
  limits: ConnectionLimits
  verifier: TokenVerifier
  tokenSource: TokenSourceOptions
  /** Use the first `X-Forwarded-For` address (only behind a proxy you run). */
  trustProxy: boolean
  /** `redirect` for codes whose move is "log in". */
  loginUrl?: string
  now: () => number
  /** Called with each refusal's code (for metrics) and unexpected errors. */
  onRefused?: (code: string, unexpected: unknown) => void
}

/**
 * The connection middleware the service puts before any of the
 * application's (PROTOCOL §5): origin guard, connection rate limit, token
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
    const origin = socket.handshake.headers.origin
    if (originAllowed(options.allowedOrigins, typeof origin === 'string' ? origin : undefined)) return next()
    refuse(next, new AppError('origin_forbidden', 'origin not in the allow-list'))
  }

  const connectionRate: SocketMiddleware = function connectionRate(socket, next) {
    const wait = options.limits.admitAddress(clientAddress(socket, options.trustProxy), options.now())
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
    options.verifier.verify(token).then(
      (verified) => {
        try {
          acceptVerified(socket, verified, options.limits)
        } catch (err) {
          return refuse(next, err)
        }
        next()
      },
      (err) => refuse(next, err),
    )
  }

  return [originGuard, connectionRate, verifyToken]
}

/**
 * Take a verified token as the socket's identity: the per-user cap, then
 * `socket.data.auth` and the token the connection handler reads. Shared by
 * the handshake and the socketio-jwt compat mode's `authenticate`.
 *
 * @throws AppError `rate_limited` when the user is at the per-user cap
 */
export function acceptVerified(socket: AnySocket, verified: VerifiedToken, limits: ConnectionLimits): void {
  if (!limits.reserveUser(verified.claims.sub)) throw rateLimited('per-user connection cap', 1000)
  socket.data.auth = socketAuthOf(verified.claims, verified.kid)
  socket.data.iat = verified.claims.iat
  writeIssuer(socket.data, verified)
  verifiedTokens.set(socket, verified)
}

/** The verified token of each socket that passed the chain, for the connection handler. */
export const verifiedTokens = new WeakMap<AnySocket, VerifiedToken>()

/**
 * The verified token of a socket that passed the chain, handed over once:
 * the connection keeps what it needs, so the claims are not held for the
 * connection's lifetime.
 */
export function takeVerified(socket: AnySocket): VerifiedToken | undefined {
  const verified = verifiedTokens.get(socket)
  verifiedTokens.delete(socket)
  return verified
}

/** The client's address: the socket's peer, or the first `X-Forwarded-For` hop when the proxy is trusted. */
export function clientAddress(socket: AnySocket, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = socket.handshake.headers['x-forwarded-for']
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
    if (first) return first
  }
  return socket.handshake.address
}
