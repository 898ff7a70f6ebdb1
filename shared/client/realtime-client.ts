import { io, type Socket } from 'socket.io-client'
import { createEnvelope, type Ack, type Envelope } from '../envelope.ts'
import type { ConnectErrorData, RealtimeErrorPayload } from '../events.ts'
import { Backoff } from './backoff.ts'
import { ClientError, type ClientErrorCode } from './client-error.ts'
import type { SessionInfo } from './edge-auth.ts'
import { envelopeIds } from './envelope-ids.ts'
import { JoinedRooms } from './joined-rooms.ts'
import {
  NotificationHandlers,
  NotificationTracker,
  sendSync,
  type Notification,
} from './notifications.ts'
import { Outbox, refusalOf } from './outbox.ts'
import { afterDisconnect, afterRefusal, LOGIN_CODES, type Recovery } from './recovery.ts'
import {
  CLIENT_DEFAULTS,
  type ConnectionState,
  type Defaulted,
  type RealtimeClientOptions,
} from './realtime-client-options.ts'
import { fetchGrant } from './room-grants.ts'

export type { ConnectionState, RealtimeClientOptions }

/** Handshakes in a row retried at once with a node's new nonce before backing off. */
const MAX_NONCE_RETRIES = 2

// Why this file is over 300 lines: RealtimeClient is one state machine over
// one socket. What holds no connection state lives beside it (outbox.ts,
// backoff.ts, joined-rooms.ts, recovery.ts, notifications.ts, the options);
// what is left here (connect, in-band refresh, re-joins, stops) moves that
// one state and must see each other's transitions.

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
  private readonly notificationHandlers: NotificationHandlers
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private fallbackTimer: ReturnType<typeof setTimeout> | undefined
  private refreshing: Promise<void> | undefined
  private lastServerError: RealtimeErrorPayload | undefined
  private connected: { resolve: () => void; reject: (err: ClientError) => void } | undefined
  /** The Socket.IO URL DPoP proofs name (`htu`): the realtime origin and path, with a trailing slash. */
  private readonly htu: string
  /** The node's latest DPoP nonce (`dpop_nonce_required`), and how many handshakes in a row it asked. */
  private nonce: string | undefined
  private nonceRetries = 0

  constructor(options: RealtimeClientOptions) {
    this.options = { ...CLIENT_DEFAULTS, ...options }
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
      // A fresh proof on every (re)connect for a bound session (docs/protocol.md §15).
      auth: (cb) => void this.handshakeAuth().then(cb),
    })
    const path = (options.socketOptions?.path ?? '/socket.io').replace(/\/+$/, '')
    this.htu = `${new URL(options.url).origin}${path}/`
    this.notificationHandlers = new NotificationHandlers(this.socket, this.notifications)
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
    return this.notificationHandlers.add(event, handler)
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

  private envelope<D>(data: D, token?: string, dpop?: string): Envelope<D> {
    return createEnvelope(this.nextId(), data, token, dpop)
  }

  /** The handshake's `auth`: the newest token and, when it is bound, a fresh proof (`GET`). */
  private async handshakeAuth(): Promise<{ token?: string; dpop?: string }> {
    const session = this.options.auth.current()
    if (!session) return {}
    if (session.jkt === undefined) return { token: session.accessToken }
    const dpop = await this.proof('GET', session.accessToken)
    return dpop === undefined
      ? { token: session.accessToken }
      : { token: session.accessToken, dpop }
  }

  /** A proof for the realtime URL, or undefined when it cannot be made (the server then says so). */
  private async proof(htm: 'GET' | 'POST', accessToken: string): Promise<string | undefined> {
    try {
      const nonce = this.nonce
      return await this.options.auth.proof(htm, this.htu, {
        accessToken,
        ...(nonce !== undefined && { nonce }),
      })
    } catch {
      return undefined
    }
  }

  private flush(): void {
    if (this.state === 'connected') this.outbox.flush()
  }

  private onConnect(): void {
    this.backoff.reset()
    this.nonceRetries = 0
    this.lastServerError = undefined
    // Rooms first: the server handles one socket's packets in order, so the
    // joins land before the queued messages that may target them. Expired
    // grants are fetched afresh first; emits wait in the queue meanwhile.
    const provider = this.options.grantProvider
    const stale = this.socket.recovered || !provider ? [] : this.rooms.stale(Date.now())
    if (!provider || stale.length === 0) return this.rejoinThenReady()
    const grantFor = (room: string) => fetchGrant(provider, room, this.options.ackTimeoutMs)
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
    // The node wants a nonce: retry at once with it (docs/protocol.md §15), a few times in a row at most.
    const nonce = err.data?.code === 'dpop_nonce_required' ? err.data.nonce : undefined
    if (typeof nonce === 'string' && this.nonceRetries < MAX_NONCE_RETRIES) {
      this.nonce = nonce
      this.nonceRetries++
      this.setState('connecting')
      return void this.socket.connect()
    }
    this.recover(afterRefusal(err.data, err.message))
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    this.stopTimers()
    if (this.state === 'closed' || this.state === 'auth_required' || this.state === 'failed') return
    const next = afterDisconnect(reason, this.lastServerError)
    // Their acks can no longer arrive (a stop for a login rejects them with its own code).
    if (next.action !== 'login') this.outbox.dropInflight()
    this.recover(next)
  }

  private recover(next: Recovery): void {
    switch (next.action) {
      case 'wait':
        return this.setState('reconnecting')
      case 'refresh':
        return void this.refreshThenReconnect()
      case 'retry':
        return this.retryLater(next.minimumMs)
      case 'login':
        return void this.requireAuth(next.code)
      case 'fail':
        return this.fail(new ClientError(next.code, next.message))
    }
  }

  private async refreshInBand(): Promise<void> {
    if (this.refreshing) return this.refreshing
    this.refreshing = (async () => {
      this.setState('refreshing')
      try {
        const session = await this.options.auth.refresh()
        const reply = await this.sendAuth(session)
        const refused = refusalOf(reply)
        if (refused) throw refused
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

  /**
   * `rt:auth` with the session's token and, when it is bound, a proof (`POST`);
   * sent once more at once when the node answers with a nonce.
   */
  private async sendAuth(session: SessionInfo): Promise<Ack> {
    const send = async () => {
      const dpop =
        session.jkt === undefined ? undefined : await this.proof('POST', session.accessToken)
      return (await this.socket
        .timeout(this.options.ackTimeoutMs)
        .emitWithAck('rt:auth', this.envelope(null, session.accessToken, dpop))) as Ack
    }
    const reply = await send()
    const error = reply.ok ? undefined : (reply.error as { code: string; nonce?: unknown })
    if (error?.code !== 'dpop_nonce_required' || typeof error.nonce !== 'string') return reply
    this.nonce = error.nonce
    return send()
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
