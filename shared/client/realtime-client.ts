import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client'
import { createEnvelope, type Ack, type Envelope } from '../envelope.ts'
import type { ConnectErrorData, RealtimeErrorPayload } from '../events.ts'
import { Backoff } from './backoff.ts'
import { ClientError, type ClientErrorCode } from './client-error.ts'
import type { EdgeAuth, SessionInfo } from './edge-auth.ts'
import { envelopeIds } from './envelope-ids.ts'
import { JoinedRooms } from './joined-rooms.ts'
import {
  NotificationTracker,
  sendSync,
  type Notification,
  type SyncOutcome,
} from './notifications.ts'
import { Outbox } from './outbox.ts'
import { fetchGrant, type GrantProvider } from './room-grants.ts'

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

/** Options {@link RealtimeClient} fills in when they are left out. */
type Defaulted = 'ackTimeoutMs' | 'queueLimit' | 'random'

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
  private readonly options: RealtimeClientOptions & Required<Pick<RealtimeClientOptions, Defaulted>>
  private readonly outbox: Outbox
  private readonly rooms = new JoinedRooms()
  private readonly backoff: Backoff
  private readonly nextId = envelopeIds()
  private readonly notifications: NotificationTracker
  /** Handlers of server-published events, by event. */
  private readonly notificationHandlers = new Map<string, Set<(n: Notification<any>) => void>>()
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private fallbackTimer: ReturnType<typeof setTimeout> | undefined
  private refreshing: Promise<void> | undefined
  private lastServerError: RealtimeErrorPayload | undefined
  private connected: { resolve: () => void; reject: (err: ClientError) => void } | undefined

  constructor(options: RealtimeClientOptions) {
    this.options = { ackTimeoutMs: 10_000, queueLimit: 100, random: Math.random, ...options }
    this.outbox = new Outbox({
      limit: this.options.queueLimit,
      send: (event, envelope, ack) => this.socket.emit(event, envelope, ack),
    })
    this.backoff = new Backoff({ random: this.options.random })
    this.notifications = new NotificationTracker(options.notifications)
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
      const code = this.state === 'auth_required' ? 'auth_required' : 'closed'
      return Promise.reject(new ClientError(code, `client is ${this.state}`))
    }
    const timeoutMs = options.timeoutMs ?? this.options.ackTimeoutMs
    const ready = this.state === 'connected'
    return this.outbox.submit(event, this.envelope(data), timeoutMs, ready) as Promise<T>
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
    const provider = this.options.grantProvider
    try {
      await this.emit('rt:join', grant === undefined ? { room } : { room, grant })
    } catch (err) {
      const refused = err instanceof ClientError && err.code === 'forbidden'
      if (grant !== undefined || !provider || !refused) throw err
      grant = await fetchGrant(provider, room, this.options.ackTimeoutMs)
      await this.emit('rt:join', { room, grant })
    }
    this.rooms.add(room, grant)
  }

  /** Leave a room. */
  async leave(room: string): Promise<void> {
    this.rooms.delete(room)
    await this.emit('rt:leave', { room })
  }

  /** Close the socket and reject what is waiting. */
  close(): void {
    this.stopTimers()
    this.setState('closed')
    this.socket.disconnect()
    this.outbox.rejectAll(new ClientError('closed', 'client closed'))
  }

  private envelope<D>(data: D, token?: string): Envelope<D> {
    return createEnvelope(this.nextId(), data, token)
  }

  private flush(): void {
    if (this.state === 'connected') this.outbox.flush()
  }

  private onConnect(): void {
    this.backoff.reset()
    this.lastServerError = undefined
    // Rooms first: the server handles one socket's packets in order, so the
    // joins land before the queued messages that may target them. Expired
    // grants are fetched afresh first; emits wait in the queue meanwhile.
    const provider = this.options.grantProvider
    const stale = this.socket.recovered || !provider ? [] : this.rooms.stale(Date.now())
    if (stale.length === 0) return this.rejoinThenReady()
    const grantFor = (room: string) => fetchGrant(provider!, room, this.options.ackTimeoutMs)
    void this.rooms.refresh(stale, grantFor).then(() => {
      if (this.socket.connected && this.state !== 'connected') this.rejoinThenReady()
    })
  }

  private rejoinThenReady(): void {
    if (!this.socket.recovered) {
      for (const rejoin of this.rooms.rejoins()) this.socket.emit('rt:join', this.envelope(rejoin))
    }
    if (this.notificationHandlers.size > 0 || this.options.notifications) {
      sendSync(
        (...args) => this.socket.emit(...args),
        this.notifications,
        this.nextId(),
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
    this.outbox.dropInflight()
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
        const reply = (await this.socket
          .timeout(this.options.ackTimeoutMs)
          .emitWithAck('rt:auth', this.envelope(null, session.accessToken))) as Ack
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

  /** Reconnect after a backoff, never sooner than the server asked. */
  private retryLater(minimumMs = 0): void {
    this.setState('reconnecting')
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => {
      if (this.state !== 'reconnecting') return
      this.setState('connecting')
      this.socket.connect()
    }, this.backoff.next(minimumMs))
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
    this.outbox.rejectAll(err)
    this.connected?.reject(err)
    this.connected = undefined
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
