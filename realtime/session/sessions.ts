import type { RevocationEvent, RevocationKind } from '../../shared/claims.ts'
import { EXPIRING_NOTICE_SECONDS } from '../../shared/constants.ts'
import { AppError, type RealtimeErrorCode } from '../../shared/errors.ts'
import { roomAllowed, isServerRoom } from '../../shared/events.ts'
import type { VerifiedToken } from '../auth/token-verifier.ts'
import { rtError } from '../errors.ts'
import { eventCovers } from '../revocations/check.ts'
import { unhandledKind } from '../revocations/kinds.ts'
import { DeadlineWheel } from './deadline-wheel.ts'
import { writeIdentity } from '../admission/write-identity.ts'
import type { RealtimeSocket } from '../types.ts'
import { NOTICE_SPREAD_SECONDS } from '../constants.ts'

/** Options of {@link Sessions}. */
export interface SessionsOptions {
  /** Seconds of leeway after `exp` before the disconnect. */
  clockToleranceSeconds: number
  /** ms clock. */
  now: () => number
  /** Called when a socket is disconnected by the server, with the code. */
  onKick?: (code: RealtimeErrorCode) => void
}

/**
 * The authenticated connections of this node: their identity, their
 * server-managed rooms, the expiry notice and disconnect, and the indexes
 * that let a revocation find its sockets without scanning them all.
 */
export class Sessions {
  private readonly bySid: Index = new Map()
  private readonly bySub: Index = new Map()
  private readonly byKid: Index = new Map()
  /** Each connection's token, kept out of `socket.data` (which recovery may persist to Redis). */
  private readonly tokens = new WeakMap<RealtimeSocket, string>()
  private readonly notices: DeadlineWheel<RealtimeSocket>
  private readonly expiries: DeadlineWheel<RealtimeSocket>
  private readonly options: SessionsOptions

  constructor(options: SessionsOptions) {
    this.options = options
    // A socket waits in one wheel at a time, the notice's and then the
    // expiry's: one wheel entry per idle socket rather than two.
    this.notices = new DeadlineWheel({
      now: options.now,
      onDue: (socket) => {
        this.expiries.schedule(socket, this.expiryAtMs(socket.data.auth.exp))
        socket.emit('rt:expiring', { exp: socket.data.auth.exp })
      },
    })
    this.expiries = new DeadlineWheel({
      now: options.now,
      onDue: (socket) =>
        this.kick(socket, new AppError('token_expired', 'not refreshed before exp')),
    })
  }

  /**
   * Keep the token a socket was admitted with (the handshake hands it over
   * with `socket.data`; it is kept here, not there, since recovery may persist
   * `socket.data` to Redis).
   */
  holdToken(socket: RealtimeSocket, token: string): void {
    this.tokens.set(socket, token)
  }

  /**
   * Record a connection whose handshake wrote its identity to `socket.data`:
   * its rooms, its indexes, its deadlines. The caller calls
   * {@link Sessions.detach} on disconnect.
   */
  attach(socket: RealtimeSocket): void {
    const { auth } = socket.data
    void socket.join([`user:${auth.sub}`, `session:${auth.sid}`])
    add(this.bySid, auth.sid, socket)
    add(this.bySub, auth.sub, socket)
    add(this.byKid, auth.kid, socket)
    this.schedule(socket)
  }

  /** The token the connection holds now (the handshake's or the last in-band one). */
  currentToken(socket: RealtimeSocket): string | undefined {
    return this.tokens.get(socket)
  }

  /**
   * Make an in-band token the connection's token: new deadlines, and rooms
   * the new `rooms` claim no longer allows are left.
   */
  replaceToken(socket: RealtimeSocket, token: VerifiedToken): void {
    const previousKid = socket.data.auth.kid
    writeIdentity(socket.data, token)
    this.tokens.set(socket, token.token)
    if (previousKid !== token.kid) {
      remove(this.byKid, previousKid, socket)
      add(this.byKid, token.kid, socket)
    }
    for (const room of socket.rooms) {
      if (room === socket.id || isServerRoom(room) || socket.data.grantedRooms?.includes(room))
        continue
      if (!roomAllowed(token.claims.rooms, room)) void socket.leave(room)
    }
    this.schedule(socket)
  }

  /**
   * Disconnect every local socket an event covers, each told why first.
   *
   * @returns how many sockets were disconnected
   */
  revoke(event: Pick<RevocationEvent, 'kind' | 'id' | 'at'>): number {
    const index = this.indexOf(event.kind)
    if (index === undefined) return 0
    const sockets = members(index, event.id).filter((s) => eventCovers(event, s.data))
    for (const socket of sockets)
      this.kick(socket, new AppError('token_revoked', `${event.kind} revoked`))
    return sockets.length
  }

  /** The index a revocation kind finds its sockets by; none for `client` (§8: such tokens open no socket). */
  private indexOf(kind: RevocationKind): Index | undefined {
    switch (kind) {
      case 'session':
        return this.bySid
      case 'user':
        return this.bySub
      case 'key':
        return this.byKid
      case 'client':
        return undefined
      default:
        return unhandledKind(kind)
    }
  }

  /**
   * Close every local socket of a user or session for a service
   * (docs/protocol.md §8 disconnect): `rt:error` `disconnected` with
   * `retryable`, then the disconnect. Not a revocation: they may come back.
   *
   * @returns how many sockets were closed
   */
  disconnect(target: { kind: 'user' | 'session'; id: string }, retryable: boolean): number {
    const sockets = members(target.kind === 'user' ? this.bySub : this.bySid, target.id)
    const error = new AppError('disconnected', 'closed through the server API')
    for (const socket of sockets) this.kick(socket, error, undefined, { retryable })
    return sockets.length
  }

  /**
   * Send `rt:error` with the code (and `extra` fields), then disconnect
   * (docs/protocol.md §5: rt:error precedes every server-side disconnect).
   */
  kick(
    socket: RealtimeSocket,
    error: AppError<RealtimeErrorCode>,
    id?: string,
    extra?: { retryable: boolean },
  ): void {
    if (!socket.connected) return
    socket.emit('rt:error', extra ? { ...rtError(error, id), ...extra } : rtError(error, id))
    this.options.onKick?.(error.code)
    socket.disconnect(true)
  }

  /** Every connected socket (for shutdown). */
  all(): RealtimeSocket[] {
    return [...this.bySid.keys()].flatMap((sid) => members(this.bySid, sid))
  }

  /** Stop the timers. */
  close(): void {
    this.notices.close()
    this.expiries.close()
  }

  private schedule(socket: RealtimeSocket): void {
    const { exp } = socket.data.auth
    const { iat } = socket.data
    const lead = Math.min(EXPIRING_NOTICE_SECONDS, Math.max(1, (exp - iat) / 10))
    // Tokens expire on whole seconds, so many sockets share an `exp` and
    // their refreshes would arrive as one burst. Each notice gets up to
    // min(lead/2, 2 s) of extra lead, by a hash of the socket id: never less
    // than the contract's lead, and the same for the same socket.
    const extra = Math.min(lead / 2, NOTICE_SPREAD_SECONDS) * spread(socket.id)
    // The notice comes at least a second before `exp`, so always before the expiry.
    this.notices.schedule(socket, (exp - lead - extra) * 1000)
    this.expiries.cancel(socket)
  }

  /** When a connection whose token expires at `exp` is disconnected, ms. */
  private expiryAtMs(exp: number): number {
    return (exp + this.options.clockToleranceSeconds) * 1000
  }

  /** Forget a connection (call on disconnect). */
  detach(socket: RealtimeSocket): void {
    this.notices.cancel(socket)
    this.expiries.cancel(socket)
    const auth = socket.data.auth
    if (!auth) return
    remove(this.bySid, auth.sid, socket)
    remove(this.bySub, auth.sub, socket)
    remove(this.byKid, auth.kid, socket)
  }
}

/**
 * An index from an id to its sockets. Nearly every id has one socket, so it
 * is stored bare; a Set is made only for the second (a Set per socket costs
 * most of a kilobyte at 50,000 sockets × three indexes).
 */
type Index = Map<string, RealtimeSocket | Set<RealtimeSocket>>

function add(index: Index, key: string, socket: RealtimeSocket): void {
  const entry = index.get(key)
  if (entry === undefined) index.set(key, socket)
  else if (entry instanceof Set) entry.add(socket)
  else if (entry !== socket) index.set(key, new Set([entry, socket]))
}

function remove(index: Index, key: string, socket: RealtimeSocket): void {
  const entry = index.get(key)
  if (entry === socket) index.delete(key)
  else if (entry instanceof Set) {
    entry.delete(socket)
    if (entry.size === 1) index.set(key, entry.values().next().value!)
  }
}

function members(index: Index, key: string): RealtimeSocket[] {
  const entry = index.get(key)
  return entry === undefined ? [] : entry instanceof Set ? [...entry] : [entry]
}

/** A stable number in [0, 1) from a socket id (FNV-1a). */
function spread(id: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  return (h >>> 0) / 2 ** 32
}
