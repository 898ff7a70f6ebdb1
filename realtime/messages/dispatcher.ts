import * as v from 'valibot'
import type { Server, Socket } from 'socket.io'
import { MAX_ENVELOPE_BYTES } from '../../shared/constants.ts'
import { envelopeBytes, parseEnvelope, type Ack, type Envelope } from '../../shared/envelope.ts'
import { AppError } from '../../shared/errors.ts'
import type { TokenVerifier } from '../auth/token-verifier.ts'
import { ackError, rateLimited, rtError, toRealtimeError } from '../errors.ts'
import { TokenBucket } from '../limits/token-bucket.ts'
import type { Sessions } from '../session/sessions.ts'
import { hasScope, type SocketData } from '../session/socket-auth.ts'
import type { EventRegistry } from './registry.ts'

type AnySocket = Socket<any, any, any, SocketData>

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  io: Server<any, any, any, SocketData>
  registry: EventRegistry
  verifier: TokenVerifier
  sessions: Sessions
  /** Refuse envelopes without `token`. @default false */
  requireEnvelopeToken: boolean
  clockToleranceSeconds: number
  /** Per-socket message rate. */
  rate: { perSecond: number; burst: number }
  now: () => number
  /** Called once per message with its event (or `invalid`) and outcome (`ok` or a code). */
  onMessage?: (event: string, outcome: string) => void
  /** Called with unexpected errors (handler bugs, outages). */
  onUnexpected?: (err: unknown, event: string) => void
}

/**
 * Install the per-message pipeline on a socket. Every packet goes through the
 * checks of PROTOCOL §5 in the contract's order; refusals answer through the
 * ack, or `rt:error` without one (a `socket.use` error would never reach the
 * client). Packets of one socket are handled in order, so an in-band refresh
 * takes effect before the envelopes behind it.
 *
 * @returns a function that installs the pipeline on a newly connected socket
 */
export function createDispatcher(options: DispatcherOptions): (socket: AnySocket) => void {
  return function install(socket) {
    const bucket = new TokenBucket(options.rate.perSecond, options.rate.burst, options.now())
    let tail: Promise<void> = Promise.resolve()
    socket.use((packet) => {
      // Never call next(): the pipeline is the only dispatcher, so no listener
      // can run on an unchecked packet.
      tail = tail.then(() => handle(options, socket, bucket, packet as unknown[]))
    })
  }
}

async function handle(o: DispatcherOptions, socket: AnySocket, bucket: TokenBucket, packet: unknown[]): Promise<void> {
  const [event, ...args] = packet
  const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as (reply: Ack) => void) : undefined
  const name = typeof event === 'string' ? event : 'invalid'
  let envelope: Envelope | undefined
  try {
    if (!socket.connected) return
    // 1. size, 2. envelope schema
    if (typeof event !== 'string' || args.length !== 1) throw new AppError('envelope_invalid', 'expected one envelope argument')
    if (envelopeBytes(args[0]) > MAX_ENVELOPE_BYTES) throw new AppError('payload_too_large', 'envelope over the limit')
    envelope = parseEnvelope(args[0])
    if (!envelope) throw new AppError('envelope_invalid', 'envelope schema')
    // 3. an in-band token becomes the connection's token. The token the
    // connection already holds needs nothing more: its time and revocation
    // checks follow for every envelope anyway.
    if (envelope.token === undefined) {
      if (o.requireEnvelopeToken) throw new AppError('token_missing', 'envelope token required')
    } else if (envelope.token !== o.sessions.currentToken(socket)) {
      const token = await o.verifier.verify(envelope.token)
      const auth = socket.data.auth
      if (token.claims.sub !== auth.sub || token.claims.sid !== auth.sid) {
        throw new AppError('token_mismatch', 'in-band token for another sub or sid')
      }
      if (!socket.connected) return
      o.sessions.replaceToken(socket, token)
    }
    // 4. the connection's token has not expired, 5. nor been revoked
    const auth = socket.data.auth
    const nowMs = o.now()
    if (auth.exp + o.clockToleranceSeconds <= nowMs / 1000) {
      o.sessions.kick(socket, new AppError('token_expired', 'connection token expired'), envelope.id)
      throw new AppError('token_expired', 'connection token expired')
    }
    try {
      o.verifier.assertNotRevoked({ sub: auth.sub, sid: auth.sid, kid: auth.kid, iat: socket.data.iat }, nowMs / 1000)
    } catch (err) {
      o.sessions.kick(socket, err as AppError<'token_revoked'>, envelope.id)
      throw err
    }
    // 6. rate
    const wait = bucket.take(nowMs)
    if (wait > 0) throw rateLimited('message rate', wait)
    // 7. registered, 8. scope, 9. data schema, 10. joined room
    const definition = o.registry.get(event)
    if (!definition) throw new AppError('unknown_event', 'event not registered')
    if (definition.scope && !hasScope(auth.scope, definition.scope)) throw new AppError('forbidden', 'scope missing')
    const parsed = v.safeParse(definition.schema, envelope.data)
    if (!parsed.success) throw new AppError('envelope_invalid', 'data schema')
    if (definition.room && !socket.rooms.has(definition.room(parsed.output))) {
      throw new AppError('forbidden', 'room not joined')
    }
    const result = await definition.handler({
      data: parsed.output,
      auth,
      envelope: envelope as Envelope<never>,
      socket,
      io: o.io,
    })
    o.onMessage?.(event, 'ok')
    ack?.(result === undefined ? { ok: true } : { ok: true, data: result })
  } catch (err) {
    const { error, unexpected } = toRealtimeError(err)
    if (unexpected) o.onUnexpected?.(err, name)
    o.onMessage?.(name, error.code)
    if (ack) ack(ackError(error))
    else if (socket.connected) socket.emit('rt:error', rtError(error, envelope?.id ?? idOf(args[0])))
  }
}

/** The id of an envelope that failed its schema, if it has a usable one, so a refusal can name it. */
function idOf(raw: unknown): string | undefined {
  const id = (raw as { id?: unknown } | null)?.id
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined
}
