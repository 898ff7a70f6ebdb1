// Why this file is long (493 lines): RealtimeClient is one state machine over
// one socket: connect, in-band refresh, the ordered outbox, re-joins with
// grants, notifications and backoff all move the same state and must see each
// other's transitions. Pieces with no state of their own already live beside
// it (notifications.ts, room-grants.ts, client-error.ts); splitting the rest
// would pass the state around rather than remove it. Next split: the outbox.
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'
import type { Ack } from '../envelope.ts'
import type { ConnectErrorData, RealtimeErrorPayload } from '../events.ts'
import { ClientError, type ClientErrorCode } from './client-error.ts'
import type { EdgeAuth, SessionInfo } from './edge-auth.ts'
import { grantStale, type GrantProvider } from './room-grants.ts'
import {
  NotificationTracker,
  sendSync,
  type Notification,
  type SyncOutcome,
} from './notifications.ts'

/** Where the connection is. */
export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'refreshing'
  | 'reconnecting'
  | 'auth_required'
  | 'failed'
  | 'closed'

/** Options of {@link RealtimeClient}. */
export interface RealtimeClientOptions {
  /** The realtime service's base URL. */
  url: string
  /** The session the client connects with. */
  auth: EdgeAuth
  /** Called when only a new login can help (revoked, invalid, refresh failed). Redirect to your login page here. */
  onAuthRequired?: (code: ClientErrorCode) => void
  /** Called on every state change. */
  onStateChange?: (state: ConnectionState) => void
  /**
   * Fetches a room grant from your application (docs/room-grants.md): called
   * when a `join` without a grant is refused `forbidden`, and before a
   * re-join after a reconnect when the room's grant has expired.
   */
  grantProvider?: GrantProvider
  /** How long an emit may wait for its ack, queue time included, ms. @default 10000 */
  ackTimeoutMs?: number
  /** Emits held while (re)connecting or refreshing. @default 100 */
  queueLimit?: number
  /** Passed to socket.io-client (transports, path, …). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>
  /** Random source for backoff jitter. @default Math.random */
  random?: () => number
  /**
   * Server-published events (docs/protocol.md §8, §9): `since`, an offset
   * stored from an earlier run; `onSync`, called after each (re)connect's
   * `rt:sync` (on `gap: true`, refetch from your application).
   */
  notifications?: {
    since?: string | null
    maxSeen?: number
    onSync?: (outcome: SyncOutcome) => void
  }
}

type Pending = {
  event: string
  envelope: { v: 1; id: string; ts: number; data: unknown }
  resolve: (value: unknown) => void
  reject: (err: ClientError) => void
  timer: ReturnType<typeof setTimeout>
  settled: boolean
}

const LOGIN_CODES = new Set<string>([
  'token_missing',
  'token_malformed',
  'token_invalid',
  'token_revoked',
  'token_mismatch',
  'token_in_query',
  'invalid_grant',
  'auth_required',
])

/**
 * One client that owns the socket and keeps its token fresh.
 *
 * - Connects with Socket.IO's `auth` callback, so every reconnect carries
 *   the newest access token.
 * - On `rt:expiring` it refreshes at the edge and sends `rt:auth`.
 * - On `connect_error` with `refresh: true` it refreshes and reconnects.
 * - On `token_revoked` / `token_invalid` / `token_missing` it stops and
 *   calls `onAuthRequired`.
 * - `rate_limited` and `unavailable` back off with full jitter.
 * - `emit` builds envelopes, resolves with the ack's data, rejects with a
 *   {@link ClientError} carrying the contract's code.
 * - Emits made while reconnecting or refreshing wait in a bounded queue and
 *   go out once, in order, when the connection is back. An envelope is
 *   never sent twice: an emit whose ack is lost with the connection rejects
 *   with `disconnected` (or, when the client stops, with the stop's code).
 *
 * @example
 * ```ts
 * const auth = new EdgeAuth({ edgeUrl })
 * await auth.login('alice', 'alice-password-1')
 * const client = new RealtimeClient({ url: realtimeUrl, auth, onAuthRequired: () => location.assign('/login') })
 * client.on('chat:message', (m) => render(m))
 * await client.connect()
 * await client.join('lobby')
 * await client.emit('chat:send', { room: 'lobby', text: 'hi' })
 * ```
 */
export class RealtimeClient {
  readonly socket: Socket
  private state: ConnectionState = 'idle'
  private readonly queue: Pending[] = []
  /** Sent, ack not yet in. Socket.IO drops ack callbacks on disconnect, so these are settled here. */
  private readonly inflight = new Set<Pending>()
  private readonly rooms = new Set<string>()
  /** The grant each room granted (not by the `rooms` claim) was joined with, for re-joins. */
  private readonly grants = new Map<string, string>()
  private readonly options: Required<
    Omit<
      RealtimeClientOptions,
      'onAuthRequired' | 'onStateChange' | 'socketOptions' | 'notifications' | 'grantProvider'
    >
  > &
    Pick<
      RealtimeClientOptions,
      'onAuthRequired' | 'onStateChange' | 'notifications' | 'grantProvider'
    >
  private readonly notifications: NotificationTracker
  /** Handlers of server-published events, by event. */
  private readonly notificationHandlers = new Map<string, Set<(n: Notification<any>) => void>>()
  private readonly prefix: string
  private seq = 0
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private fallbackTimer: ReturnType<typeof setTimeout> | undefined
  private refreshing: Promise<void> | undefined
  private lastServerError: RealtimeErrorPayload | undefined
  private connected: { resolve: () => void; reject: (err: ClientError) => void } | undefined

  constructor(options: RealtimeClientOptions) {
    this.options = { ackTimeoutMs: 10_000, queueLimit: 100, random: Math.random, ...options }
    const bytes = new Uint8Array(6)
    crypto.getRandomValues(bytes)
    this.notifications = new NotificationTracker(options.notifications)
    this.prefix = Array.from(bytes, (b) => b.toString(36).padStart(2, '0'))
      .join('')
      .slice(0, 8)
    this.socket = io(options.url, {
      autoConnect: false,
      reconnection: true,
      ...options.socketOptions,
      auth: (cb) => cb({ token: this.options.auth.current()?.accessToken }),
    })
    this.socket.on('connect', () => this.onConnect())
    this.socket.on('connect_error', (err) =>
      this.onConnectError(err as Error & { data?: ConnectErrorData }),
    )
    this.socket.on('disconnect', (reason) => this.onDisconnect(reason))
    this.socket.on('rt:expiring', () => void this.refreshInBand())
    this.socket.on('rt:error', (payload: RealtimeErrorPayload) => {
      this.lastServerError = payload
    })
  }

  /** The connection's state. */
  get connectionState(): ConnectionState {
    return this.state
  }

  /** Connect; resolves once connected, rejects with the refusal's code. */
  connect(): Promise<void> {
    if (!this.options.auth.current()) return Promise.reject(this.requireAuth('auth_required'))
    if (this.state === 'connected') return Promise.resolve()
    const done = new Promise<void>((resolve, reject) => {
      this.connected = { resolve, reject }
    })
    this.setState('connecting')
    this.socket.connect()
    return done
  }

  /**
   * Send an event and wait for its ack.
   *
   * @returns the ack's `data`
   * @throws ClientError with the contract's code, or `timeout`, `queue_full`, `disconnected`, `closed`
   */
  emit<T = unknown>(
    event: string,
    data: unknown,
    options: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.state === 'closed' || this.state === 'failed' || this.state === 'auth_required') {
      return Promise.reject(
        new ClientError(
          this.state === 'auth_required' ? 'auth_required' : 'closed',
          `client is ${this.state}`,
        ),
      )
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        event,
        envelope: { v: 1, id: `${this.prefix}-${++this.seq}`, ts: Date.now(), data },
        resolve: resolve as (value: unknown) => void,
        reject,
        settled: false,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(pending)
          if (i >= 0) this.queue.splice(i, 1)
          this.settle(
            pending,
            new ClientError(
              'timeout',
              `${event}: no ack within ${options.timeoutMs ?? this.options.ackTimeoutMs} ms`,
            ),
          )
        }, options.timeoutMs ?? this.options.ackTimeoutMs),
      }
      if (this.state === 'connected') return this.send(pending)
      if (this.queue.length >= this.options.queueLimit) {
        clearTimeout(pending.timer)
        return reject(
          new ClientError('queue_full', `${this.options.queueLimit} messages already waiting`),
        )
      }
      this.queue.push(pending)
    })
  }

  /** Subscribe to a server event; returns the unsubscribe function. */
  on<T = unknown>(event: string, handler: (payload: T) => void): () => void {
    this.socket.on(event, handler)
    return () => void this.socket.off(event, handler)
  }

  /**
   * Handle a server-published event (docs/protocol.md §8): each
   * notification once, whether it came live or through the `rt:sync` sent
   * on every (re)connect from the newest offset seen.
   *
   * @returns the unsubscribe function
   * @example
   * ```ts
   * client.onNotification<{ order: number }>('order.shipped', (n) => toast(`order ${n.data.order} shipped`))
   * ```
   */
  onNotification<T = unknown>(
    event: string,
    handler: (notification: Notification<T>) => void,
  ): () => void {
    let handlers = this.notificationHandlers.get(event)
    if (!handlers) {
      const set = (handlers = new Set())
      this.notificationHandlers.set(event, set)
      this.socket.on(event, (payload: unknown) => {
        const notification = this.notifications.accept(payload)
        if (notification) for (const h of [...set]) h(notification)
      })
    }
    handlers.add(handler as (n: Notification<any>) => void)
    return () => void handlers.delete(handler as (n: Notification<any>) => void)
  }

  /** The newest stream offset seen, to store and pass back as `notifications.since` next time. */
  get notificationOffset(): string | null {
    return this.notifications.since
  }

  /**
   * Join a room (re-joined automatically after a reconnect). A room the
   * `rooms` claim does not cover needs a grant (docs/protocol.md §11): pass
   * it, or let `grantProvider` fetch one when the join is refused `forbidden`.
   *
   * @param room - the room
   * @param options - `grant`: a room grant from your application
   * @throws ClientError with the refusal's code
   * @example
   * ```ts
   * await client.join('doc:42', { grant: await fetchGrant('doc:42') })
   * ```
   */
  async join(room: string, options: { grant?: string } = {}): Promise<void> {
    let { grant } = options
    try {
      await this.emit('rt:join', grant === undefined ? { room } : { room, grant })
    } catch (err) {
      const retry = grant === undefined && this.options.grantProvider !== undefined
      if (!retry || !(err instanceof ClientError) || err.code !== 'forbidden') throw err
      grant = await this.fetchGrant(room)
      await this.emit('rt:join', { room, grant })
    }
    this.rooms.add(room)
    if (grant === undefined) this.grants.delete(room)
    else this.grants.set(room, grant)
  }

  /** Leave a room. */
  async leave(room: string): Promise<void> {
    this.rooms.delete(room)
    this.grants.delete(room)
    await this.emit('rt:leave', { room })
  }

  /** Close the socket and reject what is waiting. */
  close(): void {
    this.stopTimers()
    this.setState('closed')
    this.socket.disconnect()
    this.rejectQueue(new ClientError('closed', 'client closed'))
  }

  private send(pending: Pending): void {
    this.inflight.add(pending)
    this.socket.emit(pending.event, pending.envelope, (reply: Ack) => {
      if (reply && reply.ok) this.settle(pending, undefined, reply.data)
      else
        this.settle(
          pending,
          new ClientError(
            (reply?.error?.code ?? 'server_error') as ClientErrorCode,
            reply?.error?.message ?? 'refused',
            (reply?.error as { retryAfterMs?: number } | undefined)?.retryAfterMs,
          ),
        )
    })
  }

  private settle(pending: Pending, err: ClientError | undefined, value?: unknown): void {
    if (pending.settled) return
    pending.settled = true
    this.inflight.delete(pending)
    clearTimeout(pending.timer)
    if (err) pending.reject(err)
    else pending.resolve(value)
  }

  private flush(): void {
    while (this.state === 'connected' && this.queue.length > 0) this.send(this.queue.shift()!)
  }

  private onConnect(): void {
    this.attempt = 0
    this.lastServerError = undefined
    // Rooms first: the server handles one socket's packets in order, so the
    // joins land before the queued messages that may target them. Expired
    // grants are fetched afresh first; emits wait in the queue meanwhile.
    if (!this.socket.recovered) {
      const stale = [...this.grants]
        .filter(([, grant]) => grantStale(grant, Date.now()))
        .map(([room]) => room)
      if (stale.length > 0 && this.options.grantProvider) {
        void this.refreshGrants(stale).then(() => {
          if (this.socket.connected && this.state !== 'connected') this.rejoinThenReady()
        })
        return
      }
    }
    this.rejoinThenReady()
  }

  /**
   * Fetch fresh grants for `rooms` (each bounded by `ackTimeoutMs`); a room
   * whose grant cannot be had is dropped from the re-joins.
   */
  private async refreshGrants(rooms: string[]): Promise<void> {
    await Promise.all(
      rooms.map(async (room) => {
        try {
          this.grants.set(room, await this.fetchGrant(room))
        } catch {
          this.rooms.delete(room)
          this.grants.delete(room)
        }
      }),
    )
  }

  /** A grant from `grantProvider`, or `timeout` after `ackTimeoutMs`. */
  private async fetchGrant(room: string): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new ClientError(
              'timeout',
              `grant for ${room}: none within ${this.options.ackTimeoutMs} ms`,
            ),
          ),
        this.options.ackTimeoutMs,
      )
    })
    try {
      return await Promise.race([this.options.grantProvider!(room), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  private rejoinThenReady(): void {
    if (!this.socket.recovered) {
      for (const room of this.rooms) {
        const grant = this.grants.get(room)
        const data = grant === undefined ? { room } : { room, grant }
        this.socket.emit('rt:join', {
          v: 1,
          id: `${this.prefix}-${++this.seq}`,
          ts: Date.now(),
          data,
        })
      }
    }
    if (this.notificationHandlers.size > 0 || this.options.notifications) {
      sendSync(
        (...args) => this.socket.emit(...args),
        this.notifications,
        `${this.prefix}-${++this.seq}`,
        this.options.notifications?.onSync,
      )
    }
    this.setState('connected')
    this.scheduleFallback(this.options.auth.current())
    this.connected?.resolve()
    this.connected = undefined
    this.flush()
  }

  private onConnectError(err: Error & { data?: ConnectErrorData }): void {
    const data = err.data
    if (!data) {
      // Transport failure: socket.io-client retries by itself.
      this.setState('reconnecting')
      return
    }
    if (data.refresh) return void this.refreshThenReconnect()
    if (data.code === 'rate_limited' || data.code === 'unavailable')
      return this.retryLater(data.retryAfterMs)
    if (LOGIN_CODES.has(data.code)) return void this.requireAuth(data.code)
    this.fail(new ClientError(data.code, err.message))
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    this.stopTimers()
    if (this.state === 'closed' || this.state === 'auth_required' || this.state === 'failed') return
    const code = reason === 'io server disconnect' ? this.lastServerError?.code : undefined
    if (code && LOGIN_CODES.has(code)) return void this.requireAuth(code)
    // Their acks can no longer arrive; they are not resent (the server may have handled them).
    for (const pending of [...this.inflight]) {
      this.settle(
        pending,
        new ClientError('disconnected', `${pending.event}: connection lost before the ack`),
      )
    }
    if (reason !== 'io server disconnect') {
      this.setState('reconnecting')
      return
    }
    if (code === 'token_expired') return void this.refreshThenReconnect()
    // A service closed the connection (docs/protocol.md §8): come back only when it says so.
    if (code === 'disconnected' && this.lastServerError?.retryable !== true) {
      return this.fail(new ClientError('disconnected', 'closed by the application'))
    }
    this.retryLater()
  }

  private async refreshInBand(): Promise<void> {
    if (this.refreshing) return this.refreshing
    this.refreshing = (async () => {
      this.setState('refreshing')
      try {
        const session = await this.options.auth.refresh()
        const reply = (await this.socket.timeout(this.options.ackTimeoutMs).emitWithAck('rt:auth', {
          v: 1,
          id: `${this.prefix}-${++this.seq}`,
          ts: Date.now(),
          data: null,
          token: session.accessToken,
        })) as Ack
        if (!reply.ok)
          throw new ClientError(reply.error.code as ClientErrorCode, reply.error.message)
        if (this.state === 'refreshing') this.setState('connected')
        this.scheduleFallback(session)
      } catch (err) {
        const code = err instanceof ClientError ? err.code : 'timeout'
        if (LOGIN_CODES.has(code)) this.requireAuth(code)
        else if (this.state === 'refreshing')
          this.setState(this.socket.connected ? 'connected' : 'reconnecting')
      } finally {
        this.refreshing = undefined
        this.flush()
      }
    })()
    return this.refreshing
  }

  private async refreshThenReconnect(): Promise<void> {
    this.setState('refreshing')
    try {
      await this.options.auth.refresh()
    } catch (err) {
      const code = err instanceof ClientError ? err.code : 'network'
      if (LOGIN_CODES.has(code)) return void this.requireAuth(code)
      return this.retryLater()
    }
    this.setState('connecting')
    this.socket.connect()
  }

  private retryLater(minimumMs = 0): void {
    this.setState('reconnecting')
    // Full jitter over an exponential ceiling, never sooner than the server asked.
    const ceiling = Math.min(30_000, 500 * 2 ** this.attempt++)
    const delay = Math.max(minimumMs, Math.floor(this.options.random() * ceiling))
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      if (this.state !== 'reconnecting') return
      this.setState('connecting')
      this.socket.connect()
    }, delay)
  }

  /** If `rt:expiring` is missed, refresh a little before `exp` anyway. */
  private scheduleFallback(session: SessionInfo | undefined): void {
    clearTimeout(this.fallbackTimer)
    if (!session) return
    const ms = session.exp * 1000 - Date.now() - 5000
    if (ms > 0) this.fallbackTimer = setTimeout(() => void this.refreshInBand(), ms)
  }

  private requireAuth(code: ClientErrorCode): ClientError {
    const err = new ClientError(code, 'a new login is required')
    this.halt('auth_required', err)
    this.options.onAuthRequired?.(code)
    return err
  }

  private fail(err: ClientError): void {
    this.halt('failed', err)
  }

  /** Stop for good: no timers, no socket, and everything waiting rejected with `err`. */
  private halt(state: 'auth_required' | 'failed', err: ClientError): void {
    this.stopTimers()
    this.setState(state)
    this.socket.disconnect()
    this.rejectQueue(err)
    this.connected?.reject(err)
    this.connected = undefined
  }

  /** Reject what is queued and what is waiting for its ack. */
  private rejectQueue(err: ClientError): void {
    for (const pending of [...this.queue.splice(0), ...this.inflight]) this.settle(pending, err)
  }

  private stopTimers(): void {
    clearTimeout(this.retryTimer)
    clearTimeout(this.fallbackTimer)
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return
    this.state = state
    this.options.onStateChange?.(state)
  }
}
