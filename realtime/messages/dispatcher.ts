// Why this file is over 300 lines: the per-message pipeline of
// docs/protocol.md §5 is one sequence (rate, size, schema, in-band token,
// expiry, revocation, event, scope, data, room, handler) with a synchronous
// fast path and one queue for messages that must wait; keeping the steps in
// one file keeps their order visible. Packet parsing and replies are small
// helpers at the bottom.
import * as v from 'valibot'
import { MAX_ENVELOPE_BYTES } from '../../shared/constants.ts'
import {
  ENVELOPE_ID_PATTERN,
  envelopeBytes,
  envelopeProblem,
  parseEnvelope,
  type Ack,
  type Envelope,
} from '../../shared/envelope.ts'
import { AppError, type RealtimeErrorCode } from '../../shared/errors.ts'
import { describeIssues } from '../../shared/issues.ts'
import type { TokenVerifier, VerifiedToken } from '../auth/token-verifier.ts'
import type { DpopCheck } from '../admission/dpop.ts'
import { ackError, rateLimited, rtError, toRealtimeError } from '../errors.ts'
import { TokenBucket } from '../limits/token-bucket.ts'
import type { Sessions } from '../session/sessions.ts'
import { hasScope } from '../identity.ts'
import { needsExactSize } from './frame-size.ts'
import type { EventRegistry } from './registry.ts'
import type { RealtimeIo, RealtimeSocket } from '../types.ts'

type AckFn = (reply: Ack) => void

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  io: RealtimeIo
  registry: EventRegistry
  verifier: TokenVerifier
  sessions: Sessions
  /** Refuse envelopes without `token`. @default false */
  requireEnvelopeToken: boolean
  /** The proof check of an in-band DPoP-bound token (docs/protocol.md §15). Without it a bound connection takes no in-band token. */
  dpop?: DpopCheck
  clockToleranceSeconds: number
  /**
   * Per-socket message rate. While a message waits (an in-band token being
   * verified, an async handler), at most `burst` more queue behind it; the
   * rest are refused with `rate_limited` at once.
   */
  rate: { perSecond: number; burst: number }
  now: () => number
  /** Called once per message with its event (or `invalid`) and outcome (`ok` or a code). */
  onMessage?: (event: string, outcome: string) => void
  /** Called with unexpected errors (handler bugs, outages). */
  onUnexpected?: (err: unknown, event: string) => void
}

/** One socket's pipeline state. */
interface Pipeline {
  o: DispatcherOptions
  socket: RealtimeSocket
  /** Made on the first message: an idle socket holds none (a new bucket is full, as one made at connect would be by then). */
  bucket: TokenBucket | undefined
  /** Packets behind one that is still waiting; undefined when none waits. */
  backlog: unknown[][] | undefined
}

/**
 * Install the per-message pipeline on a socket. Every packet goes through the
 * checks of docs/protocol.md §5 in the contract's order; refusals answer through the
 * ack, or `rt:error` without one (a `socket.use` error would never reach the
 * client). Packets of one socket are handled in order, so an in-band refresh
 * takes effect before the envelopes behind it.
 *
 * A message is handled synchronously, as Socket.IO delivers it, unless it
 * has to wait (an in-band token to verify, a handler returning a promise);
 * only then do the packets behind it queue. The common message thus costs no
 * promise and no extra tick.
 *
 * @returns a function that installs the pipeline on a newly connected socket
 */
export function createDispatcher(options: DispatcherOptions): (socket: RealtimeSocket) => void {
  return function install(socket) {
    const pipeline: Pipeline = { o: options, socket, bucket: undefined, backlog: undefined }
    useOnly(socket, (packet) => {
      // Never call next(): the pipeline is the only dispatcher, so no listener
      // can run on an unchecked packet.
      accept(pipeline, packet as unknown[])
    })
  }
}

/**
 * `socket.use(fn)` on a socket with no middleware yet, without its cost:
 * Socket.IO's list starts as `[]`, and the first push grows it to 17 slots,
 * about 150 bytes per socket for one function. The pipeline is each socket's
 * first middleware, so the list is made with one slot; Socket.IO reads it
 * only in its own `run`, and a later `socket.use` still appends.
 */
function useOnly(socket: RealtimeSocket, fn: Parameters<RealtimeSocket['use']>[0]): void {
  const internals = socket as unknown as { fns?: unknown }
  if (Array.isArray(internals.fns) && internals.fns.length === 0) internals.fns = [fn]
  else socket.use(fn)
}

function accept(p: Pipeline, packet: unknown[]): void {
  if (p.backlog) {
    if (p.backlog.length < p.o.rate.burst) p.backlog.push(packet)
    else overflow(p, packet)
    return
  }
  const waiting = handle(p, packet)
  if (waiting) {
    p.backlog = []
    void waiting.then(() => drain(p))
  }
}

/** Handle queued packets in order, each after the one before it has finished. */
async function drain(p: Pipeline): Promise<void> {
  for (let next = p.backlog!.shift(); next; next = p.backlog!.shift()) await handle(p, next)
  p.backlog = undefined
}

/** A packet that arrived while the backlog was full: refused, as over the rate. */
function overflow(p: Pipeline, packet: unknown[]): void {
  const { event, ack, raw } = incoming(packet)
  refuse(
    p,
    typeof event === 'string' ? event : 'invalid',
    rateLimited('backlog full', 1000),
    ack,
    idOf(raw),
  )
}

/**
 * The per-socket rate, then steps 1–3 of docs/protocol.md §5: size, envelope schema, in-band token.
 *
 * @returns a promise when the message had to wait, else undefined (done)
 */
function handle(p: Pipeline, packet: unknown[]): Promise<void> | undefined {
  const { o, socket } = p
  const { event, ack, argc, raw } = incoming(packet)
  const name = typeof event === 'string' ? event : 'invalid'
  let id: string | undefined
  try {
    if (!socket.connected) return undefined
    // Charged before any parsing or signature work, earlier than the step
    // docs/protocol.md §5 lists (stricter, never looser): an envelope whose
    // in-band token fails must still cost its sender a message.
    const nowMs = o.now()
    p.bucket ??= new TokenBucket(o.rate.perSecond, o.rate.burst, nowMs)
    const wait = p.bucket.take(nowMs)
    if (wait > 0) throw rateLimited('message rate', wait)
    if (typeof event !== 'string' || argc !== 1)
      throw new AppError('envelope_invalid', 'expected one envelope argument')
    if (needsExactSize(packet) && envelopeBytes(raw) > MAX_ENVELOPE_BYTES) {
      throw new AppError('payload_too_large', 'envelope over the limit')
    }
    const envelope = parseEnvelope(raw)
    if (!envelope) throw new AppError('envelope_invalid', envelopeProblem(raw))
    id = envelope.id
    // An in-band token becomes the connection's token. The token the
    // connection already holds needs nothing more: its time and revocation
    // checks follow for every envelope anyway.
    if (envelope.token === undefined) {
      if (o.requireEnvelopeToken) throw new AppError('token_missing', 'envelope token required')
    } else if (envelope.token !== o.sessions.currentToken(socket)) {
      return o.verifier.verify(envelope.token).then(
        (token) => {
          if (!socket.connected) return
          let adoptable: VerifiedToken
          try {
            adoptable = sameIdentity(p, token)
          } catch (err) {
            return refuseAndClose(p, event, err as AppError<'token_mismatch'>, ack, envelope.id)
          }
          const jkt = socket.data.jkt
          if (jkt === undefined) {
            o.sessions.replaceToken(socket, adoptable)
            return dispatch(p, event, envelope, ack)
          }
          return proven(p, envelope, jkt).then(
            () => {
              if (!socket.connected) return
              o.sessions.replaceToken(socket, adoptable)
              return dispatch(p, event, envelope, ack)
            },
            (err) => {
              const { error } = toRealtimeError(err)
              if (error.code === 'dpop_invalid') refuseAndClose(p, event, error, ack, envelope.id)
              else refuse(p, event, error, ack, envelope.id)
            },
          )
        },
        (err) => {
          const { error } = toRealtimeError(err)
          if (FORGIVEN_TOKEN_FAILURES.has(error.code)) refuse(p, event, err, ack, envelope.id)
          else refuseAndClose(p, event, error, ack, envelope.id)
        },
      )
    }
    return dispatch(p, event, envelope, ack)
  } catch (err) {
    refuse(p, name, err, ack, id ?? idOf(raw))
    return undefined
  }
}

/**
 * Codes of a failed in-band token that a real client can cause: a token that
 * expired on the way, an older token a revocation covers while the
 * connection's own does not, keys the node cannot reach. Any other failure
 * (a bad signature, an unknown kid, a malformed token) is not a client's
 * mistake, so the socket is dropped rather than left to try again.
 */
const FORGIVEN_TOKEN_FAILURES: ReadonlySet<string> = new Set([
  'token_expired',
  'token_revoked',
  'unavailable',
])

/**
 * Whether an in-band token may replace the connection's: its own issuer,
 * `sub` and `sid`, and its own key (docs/protocol.md §15: a connection that
 * opened bound takes only tokens bound to that key; one that opened with a
 * bearer token has no key, so it takes no bound token either). Another
 * issuer's tokens have no `sid` (docs/protocol.md §12): the connection keeps
 * the session it opened with (its first token's `jti`).
 *
 * @returns the token as the connection will hold it
 * @throws AppError `token_mismatch`
 */
function sameIdentity(p: Pipeline, token: VerifiedToken): VerifiedToken {
  const { auth, issuer, jkt } = p.socket.data
  const { claims } = token
  if (token.issuer !== issuer || claims.sub !== auth.sub) {
    throw new AppError('token_mismatch', 'in-band token for another issuer or sub')
  }
  if (claims.cnf?.jkt !== jkt) {
    throw new AppError('token_mismatch', 'in-band token bound to another key, or to none')
  }
  if (issuer !== undefined) return { ...token, claims: { ...claims, sid: auth.sid } }
  if (claims.sid !== auth.sid) throw new AppError('token_mismatch', 'in-band token for another sid')
  return token
}

/**
 * The envelope's `dpop` proves the connection's key for its bound token
 * (`htm` POST, the connection's `htu`).
 */
async function proven(p: Pipeline, envelope: Envelope, jkt: string): Promise<void> {
  if (!p.o.dpop) throw new AppError('dpop_required', 'no DPoP check configured')
  await p.o.dpop.inBand(p.socket.handshake, envelope.dpop, envelope.token!, jkt)
}

/**
 * Steps 4–10 of docs/protocol.md §5, then the handler.
 *
 * @returns a promise when the handler returned one, else undefined (done)
 */
function dispatch(
  p: Pipeline,
  event: string,
  envelope: Envelope,
  ack: AckFn | undefined,
): Promise<void> | undefined {
  const { o, socket } = p
  try {
    // 4. the connection's token has not expired, 5. nor been revoked
    const auth = socket.data.auth
    const nowMs = o.now()
    if (auth.exp + o.clockToleranceSeconds <= nowMs / 1000) {
      const expired = new AppError('token_expired', 'connection token expired')
      refuseAndClose(p, event, expired, ack, envelope.id)
      return undefined
    }
    try {
      o.verifier.assertNotRevoked(socket.data, nowMs / 1000)
    } catch (err) {
      refuseAndClose(p, event, err as AppError<'token_revoked'>, ack, envelope.id)
      return undefined
    }
    // 6. rate: charged on arrival, in handle()
    // 7. registered, 8. scope, 9. data schema, 10. joined room
    const definition = o.registry.get(event)
    if (!definition) throw new AppError('unknown_event', 'event not registered')
    if (definition.scope && !hasScope(auth.scope, definition.scope))
      throw new AppError('forbidden', 'scope missing')
    const parsed = v.safeParse(definition.schema, envelope.data)
    if (!parsed.success)
      throw new AppError('envelope_invalid', describeIssues(parsed.issues, 'data'))
    if (definition.room && !socket.rooms.has(definition.room(parsed.output))) {
      throw new AppError('forbidden', 'room not joined')
    }
    const result = definition.handler({
      data: parsed.output,
      auth,
      envelope: envelope as Envelope<never>,
      socket,
      io: o.io,
    })
    if (isThenable(result)) {
      return Promise.resolve(result).then(
        (value) => done(p, event, ack, value),
        (err) => refuse(p, event, err, ack, envelope.id),
      )
    }
    done(p, event, ack, result)
  } catch (err) {
    refuse(p, event, err, ack, envelope.id)
  }
  return undefined
}

function done(p: Pipeline, event: string, ack: AckFn | undefined, result: unknown): void {
  p.o.onMessage?.(event, 'ok')
  ack?.(result === undefined ? { ok: true } : { ok: true, data: result })
}

/** Answer a refusal through the ack, or `rt:error` without one. */
function refuse(
  p: Pipeline,
  event: string,
  err: unknown,
  ack: AckFn | undefined,
  id: string | undefined,
): void {
  const { error, unexpected } = toRealtimeError(err)
  if (unexpected) p.o.onUnexpected?.(err, event)
  p.o.onMessage?.(event, error.code)
  if (ack) ack(ackError(error))
  else if (p.socket.connected) p.socket.emit('rt:error', rtError(error, id))
}

/**
 * A refusal that also closes the connection (docs/protocol.md §5, v1.2): the
 * envelope is answered first. With an ack: the ack, then `rt:error` without
 * id, then the disconnect; without one: its one `rt:error` with the id,
 * then the disconnect.
 */
function refuseAndClose(
  p: Pipeline,
  event: string,
  error: AppError<RealtimeErrorCode>,
  ack: AckFn | undefined,
  id: string,
): void {
  p.o.onMessage?.(event, error.code)
  if (ack) {
    ack(ackError(error))
    p.o.sessions.kick(p.socket, error)
  } else {
    p.o.sessions.kick(p.socket, error, id)
  }
}

/** A packet's parts: event name, acknowledgement callback (if the client asked for one), argument count and first argument. */
function incoming(packet: unknown[]): {
  event: unknown
  ack: AckFn | undefined
  argc: number
  raw: unknown
} {
  const last = packet[packet.length - 1]
  const ack = packet.length > 1 && typeof last === 'function' ? (last as AckFn) : undefined
  const argc = packet.length - (ack ? 2 : 1)
  return { event: packet[0], ack, argc, raw: argc > 0 ? packet[1] : undefined }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function'
}

/** The id of an envelope that failed its schema, if it has a usable one, so a refusal can name it. */
function idOf(raw: unknown): string | undefined {
  const id = (raw as { id?: unknown } | null)?.id
  return typeof id === 'string' && ENVELOPE_ID_PATTERN.test(id) ? id : undefined
}
