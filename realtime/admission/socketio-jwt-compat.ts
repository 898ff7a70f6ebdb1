/**
 * Opt-in compatibility with socketio-jwt's post-connect flow, for apps
 * migrating off that unmaintained package
 * (docs/migrating-from-socketio-jwt.md). A socket that connects with no token at all is admitted
 * pending: it has a bounded time to emit `authenticate` `{ token }`, which
 * goes through the same verification as a handshake token, and nothing else
 * it sends is processed until then.
 */
import type { AccessClaims } from '../../shared/claims.ts'
import { SOCKETIO_JWT_COMPAT_TIMEOUT_MS } from '../../shared/constants.ts'
import { AppError, isAppError, type RealtimeErrorCode } from '../../shared/errors.ts'
import { rtError, toRealtimeError, wireMessage } from '../errors.ts'
import type { ConnectionLimits } from '../limits/connection-limits.ts'
import type { Sessions } from '../session/sessions.ts'
import { acceptVerified, type SocketMiddleware } from './handshake.ts'
import { extractToken, type TokenSourceOptions } from './token-source.ts'
import type { TokenVerifier, VerifiedToken } from '../auth/token-verifier.ts'
import type { RealtimeSocket, UnauthorizedPayload } from '../types.ts'

/** The `socketioJwtCompat` option of `createRealtimeServer`. */
export interface SocketioJwtCompatOptions {
  /** Time a tokenless socket has to authenticate, ms (covers verification too). @default 5000 */
  timeoutMs?: number
}

/** Options of {@link createSocketioJwtCompat}: the setting plus what the server shares with the handshake. */
export interface SocketioJwtCompatDeps extends SocketioJwtCompatOptions {
  tokenSource: TokenSourceOptions
  verifier: TokenVerifier
  /** For the per-user cap, as in the handshake. */
  limits: ConnectionLimits
  /** Keeps the connection's token, as in the handshake. */
  sessions: Pick<Sessions, 'holdToken'>
  /** Called with each refusal's code (for metrics) and unexpected errors, like the handshake's. */
  onRefused?: (code: string, unexpected: unknown) => void
  /** Called once per pending socket with `ok` or the refusal code (to see when old clients are gone). */
  onOutcome?: (outcome: string) => void
}

/**
 * @deprecated A socket authenticated in compat mode also carries socketio-jwt's
 * `decoded_token`: the claims of the token it connected with, never updated by
 * an in-band refresh. Read `socket.data.auth` instead.
 */
export type WithDecodedToken = { decoded_token?: AccessClaims }

/** What the server does with a pending socket once it has authenticated. */
export interface HoldSteps {
  /** The namespace's user middleware, run only once the socket has an identity. */
  middleware: SocketMiddleware
  /** The connection bookkeeping of a handshake-authenticated socket (session, dispatcher, limits, metrics); reads `socket.data`. */
  admit: () => void
}

/** The compat mode as the server uses it. */
export interface SocketioJwtCompat {
  /** Wrap the handshake's `verifyToken`: a handshake with no token (`token_missing` only) passes, pending. */
  gate(verifyToken: SocketMiddleware): SocketMiddleware
  /** The handshake's `onAccepted`: socketio-jwt's deprecated `decoded_token` on a socket verified at the handshake. */
  decorate(socket: RealtimeSocket, verified: VerifiedToken): void
  /** Whether a socket passed the chain without a token and awaits `authenticate`. */
  isPending(socket: RealtimeSocket): boolean
  /** On connection of a pending socket: drop its packets, wait for `authenticate` until the deadline. */
  hold(socket: RealtimeSocket, steps: HoldSteps): void
  /** Shutdown: tell every pending socket `rt:error` `unavailable` and disconnect it; returns them. */
  drain(): RealtimeSocket[]
}

/**
 * Create socketio-jwt's post-connect flow on top of the handshake's checks.
 * On success the socket gets `authenticated` and is treated like a
 * handshake-authenticated one; on failure or timeout it gets `unauthorized`
 * ({@link UnauthorizedPayload}, generic message) and is disconnected.
 *
 * @param deps - {@link SocketioJwtCompatDeps}; `timeoutMs` defaults to 5000
 * @throws TypeError when `timeoutMs` is not a positive number
 * @example
 * ```ts
 * const compat = createSocketioJwtCompat({ timeoutMs: 5000, tokenSource: {}, verifier, limits, sessions })
 * nsp.use(compat.gate(verifyToken))
 * ```
 */
export function createSocketioJwtCompat(deps: SocketioJwtCompatDeps): SocketioJwtCompat {
  const timeoutMs = deps.timeoutMs ?? SOCKETIO_JWT_COMPAT_TIMEOUT_MS
  if (!(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new TypeError('socketioJwtCompat.timeoutMs must be a positive number of milliseconds')
  }
  const awaiting = new WeakSet<RealtimeSocket>()
  const held = new Map<RealtimeSocket, () => void>()

  return {
    gate(verifyToken) {
      return function verifyTokenOrPending(socket, next) {
        try {
          extractToken(socket.handshake as never, deps.tokenSource)
        } catch (err) {
          if (isAppError(err) && err.code === 'token_missing') {
            awaiting.add(socket)
            return next()
          }
        }
        verifyToken(socket, next)
      }
    },

    decorate: (socket, verified) => decorate(socket, verified.claims),

    isPending: (socket) => awaiting.has(socket),

    hold(socket, steps) {
      awaiting.delete(socket)
      let state: 'pending' | 'verifying' | 'open' | 'done' = 'pending'
      const timer = setTimeout(
        () => refuse(new AppError('token_missing', 'no authenticate before the deadline')),
        timeoutMs,
      )
      const settle = () => {
        clearTimeout(timer)
        held.delete(socket)
      }
      // A socket refused, drained or gone before it opened gives back its user slot at once.
      const release = () => {
        if (socket.data.auth) deps.limits.releaseUser(socket.data.auth.sub, socket.id)
      }
      held.set(socket, () => {
        state = 'done'
        settle()
        release()
      })
      socket.once('disconnect', () => held.get(socket)?.())

      const refuse = (err: unknown) => {
        if (state === 'done' || state === 'open') return
        state = 'done'
        settle()
        release()
        const { error, unexpected } = toRealtimeError(err)
        deps.onRefused?.(error.code, unexpected ? err : undefined)
        deps.onOutcome?.(error.code)
        if (!socket.connected) return
        // With an ack, as socketio-jwt sends it: clients that call the callback do not throw.
        socket.emit('unauthorized', unauthorizedPayload(error.code), () => {})
        socket.disconnect(true)
      }

      const authenticate = async (payload: unknown) => {
        const verified = await deps.verifier.verify(tokenOf(payload))
        if (state !== 'verifying' || !socket.connected) return
        acceptVerified(socket, verified, deps)
        decorate(socket, verified.claims)
        const refused = await new Promise<Error | undefined>((resolve) =>
          steps.middleware(socket, resolve),
        )
        if (refused)
          throw new AppError('forbidden', 'connection middleware refused', { cause: refused })
        if (state !== 'verifying' || !socket.connected) return
        state = 'open'
        settle()
        steps.admit()
        deps.onOutcome?.('ok')
        if (socket.connected) socket.emit('authenticated')
      }

      // First of the socket's packet middleware: until it is open, no packet reaches a listener
      // or the dispatcher; `authenticate` is consumed here, everything else is dropped unanswered.
      socket.use((packet, next) => {
        if (state === 'open') return next()
        if (state !== 'pending' || packet[0] !== 'authenticate') return
        state = 'verifying'
        authenticate(packet[1]).catch(refuse)
      })
    },

    drain() {
      const sockets = [...held.keys()]
      for (const socket of sockets) {
        held.get(socket)?.()
        if (!socket.connected) continue
        socket.emit('rt:error', rtError(new AppError('unavailable', 'node draining')))
        socket.disconnect(true)
      }
      return sockets
    },
  }
}

/**
 * socketio-jwt's error shape for `unauthorized`, with the contract's generic
 * message for `code` (never the token or the failed check's detail).
 *
 * @param code - the edgegate code behind the refusal
 * @example
 * ```ts
 * socket.emit('unauthorized', unauthorizedPayload('token_invalid'))
 * ```
 */
export function unauthorizedPayload(code: RealtimeErrorCode): UnauthorizedPayload {
  const message = wireMessage(code)
  return {
    message,
    code: 'invalid_token',
    type: 'UnauthorizedError',
    data: { message, code: 'invalid_token', type: 'UnauthorizedError' },
  }
}

/** The token of an `authenticate` payload, `{ token: string }`. */
function tokenOf(payload: unknown): string {
  const token =
    typeof payload === 'object' && payload !== null
      ? (payload as { token?: unknown }).token
      : undefined
  if (token === undefined || token === null || token === '')
    throw new AppError('token_missing', 'authenticate carried no token')
  if (typeof token !== 'string')
    throw new AppError('token_malformed', 'authenticate token is not a string')
  return token
}

function decorate(socket: RealtimeSocket, claims: AccessClaims): void {
  ;(socket as RealtimeSocket & WithDecodedToken).decoded_token = claims
}
