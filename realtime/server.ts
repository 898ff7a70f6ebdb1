import { createAdaptorServer } from '@hono/node-server'
import type { Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server, type Namespace, type Socket } from 'socket.io'
import type { RevocationEvent } from '../shared/claims.ts'
import { CLOCK_TOLERANCE_SECONDS, DEFAULT_AUDIENCE, JWKS_PATH } from '../shared/constants.ts'
import { AppError } from '../shared/errors.ts'
import { handshakeChain, takeVerified, clientAddress, type SocketMiddleware } from './auth/handshake.ts'
import { createSocketioJwtCompat, type SocketioJwtCompatOptions } from './auth/socketio-jwt-compat.ts'
import { createKeySet, type KeySet } from '../shared/jwks/key-set.ts'
import { createRedisCluster, type RedisCluster } from './cluster/redis-cluster.ts'
import { FeedPoller } from './revocations/feed-poller.ts'
import { createPushReceiver } from './revocations/push-receiver.ts'
import { connectError } from './errors.ts'
import { normalizeOrigins } from './auth/origin-guard.ts'
import type { TokenSourceOptions } from './auth/token-source.ts'
import { TokenVerifier, type VerifiedToken } from './auth/token-verifier.ts'
import { importNativeKey } from './auth/native-signature.ts'
import { pushKeyResolver, refetchKeysOnKeyEvent } from './revocations/key-events.ts'
import { createHttpApp } from './http/app.ts'
import { ConnectionLimits, type ConnectionLimitOptions } from './limits/connection-limits.ts'
import { silentLogger, type Logger } from './log.ts'
import { createBuiltinEvents } from './messages/builtin-events.ts'
import { RoomGrants } from './auth/room-grants.ts'
import { TrustedIssuers } from './auth/issuers/trusted-issuers.ts'
import type { TrustedIssuer } from './auth/issuers/schema.ts'
import { createDispatcher } from './messages/dispatcher.ts'
import { frameSizeParser, MAX_FRAME_BYTES } from './messages/frame-size.ts'
import { CoalescingWebSocketServer } from './engine/coalescing-ws.ts'
import { installHeartbeatGuard } from './engine/heartbeat.ts'
import { guardSlowConsumers } from './engine/slow-consumer.ts'
import { RESERVED_EVENTS, type EventDefinition } from './messages/registry.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { RevocationSet } from './revocations/revocation-set.ts'
import { RecoveryGate } from './session/recovery-gate.ts'
import { Sessions } from './session/sessions.ts'
import type { SocketData } from './session/socket-auth.ts'

/** Options of {@link createRealtimeServer}. Only `issuer` is required. */
export interface RealtimeServerOptions {
  /** The edge's issuer URL (`iss`). */
  issuer: string
  /** Accepted `aud`. @default 'realtime' */
  audience?: string | string[]
  /** Where the keys are; configuration only, never taken from a token. @default `${issuer}/.well-known/jwks.json` */
  jwksUrl?: string
  /** Browser origins allowed to connect; a handshake without Origin is not a browser and passes. @default [] */
  allowedOrigins?: readonly string[] | '*'
  /** Token sources beyond `auth.token` and `Authorization`. @default { allowQueryToken: false } */
  tokenSource?: TokenSourceOptions
  /** Refuse envelopes that carry no `token`. @default false */
  requireEnvelopeToken?: boolean
  /** Leeway on `exp`/`nbf`, seconds. @default 5 */
  clockToleranceSeconds?: number
  /** Application events, by name. */
  events?: Record<string, EventDefinition<any>>
  /** The application's connection middleware for `/`, after the service's own chain. */
  middleware?: SocketMiddleware | SocketMiddleware[]
  /** Connection admission. */
  limits?: ConnectionLimitOptions
  /** Per-socket message rate. @default { perSecond: 20, burst: 40 } */
  messageRate?: { perSecond: number; burst: number }
  /** Socket.IO path. @default '/socket.io' */
  path?: string
  /** Time a client may take between opening a connection and sending CONNECT, ms. @default 5000 */
  connectTimeoutMs?: number
  /** Enable connection state recovery (re-authenticated before anything is delivered). @default false */
  connectionStateRecovery?: false | { maxDisconnectionDurationMs: number }
  /** Use X-Forwarded-For for client addresses (only behind your own proxy). @default false */
  trustProxy?: boolean
  /** Login page, sent as `redirect` in refusals whose remedy is to log in. */
  loginUrl?: string
  /** JWKS client tuning. */
  jwks?: { cooldownMs?: number; maxStaleMs?: number; timeoutMs?: number }
  /** An existing key set (tests, or several servers in one process). */
  keySet?: KeySet
  /** fetch for the JWKS. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /** Revocations in force. @default a new in-memory set */
  revocations?: RevocationSet
  /** ms clock. @default Date.now */
  now?: () => number
  /** Structured log lines. @default silent */
  logger?: Logger
  /** Pull the edge's revocation feed (PROTOCOL §6); without it only pushes and `revoke()` apply. */
  revocationFeed?: { edgeUrl: string; token: string; intervalMs?: number }
  /** Scale out: Redis Streams adapter, shared revocation set, revocations fanned out to every node. */
  redisUrl?: string
  /**
   * socketio-jwt's post-connect flow, for clients still migrating off it (README
   * "Migrating from socketio-jwt"): a socket with no token has `timeoutMs` to
   * emit `authenticate` `{ token }`. @default false
   */
  socketioJwtCompat?: false | SocketioJwtCompatOptions
  /** Issuers trusted besides the edge, each with its own keys (docs/protocol.md §12). @default [] */
  trustedIssuers?: readonly TrustedIssuer[]
  /** Most bytes queued for one connection before it is closed (slow consumer). @default 1 MiB */
  maxQueuedBytesPerSocket?: number
  /** Engine.IO heartbeat. @default { pingIntervalMs: 25000, pingTimeoutMs: 20000 } */
  heartbeat?: { pingIntervalMs: number; pingTimeoutMs: number }
}

/** A revocation as the server applies it. */
type Revocation = Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>

/** The Socket.IO server-side event that fans a revocation out to the other nodes. */
const CLUSTER_REVOCATION_EVENT = 'edgegate:revocation'

/** A running (or ready to run) realtime server. */
export interface RealtimeServer {
  io: Server<any, any, any, SocketData>
  httpServer: HttpServer
  metrics: Metrics
  revocations: RevocationSet
  keySet: KeySet
  /** Listen on `port` (0 for any) and `host`. @default 0, '127.0.0.1' */
  listen(port?: number, host?: string): Promise<AddressInfo>
  /** Add the application's middleware (one function or an array) to a namespace, after the service's chain. */
  use(namespace: string, middleware: SocketMiddleware | SocketMiddleware[]): void
  /**
   * Apply a revocation on every node: record it (in Redis too, when
   * clustered), tell the other nodes, and disconnect the local sockets it
   * covers. Returns how many local sockets were disconnected.
   */
  revoke(event: Revocation): number
  /** Reasons this node is not ready; empty when ready. */
  notReadyReasons(): string[]
  /** Other trusted issuers whose keys are not loaded (docs/protocol.md §12): reported by `/readyz`, not a reason to leave rotation. */
  degradedReasons(): string[]
  /** Stop accepting, tell clients `rt:error unavailable`, disconnect, close; bounded by `timeoutMs`. */
  close(options?: { timeoutMs?: number }): Promise<void>
}

/**
 * Create the realtime service: Socket.IO and a small Hono app (`/healthz`,
 * `/readyz`, `/metrics`) on one HTTP server; every handshake verified
 * against the edge's JWKS, every message re-validated.
 *
 * @param options - {@link RealtimeServerOptions}
 * @example
 * ```ts
 * const server = createRealtimeServer({ issuer: 'https://auth.example.com', events: chatEvents })
 * await server.listen(3000, '0.0.0.0')
 * ```
 */
export function createRealtimeServer(options: RealtimeServerOptions): RealtimeServer {
  if (!options.issuer) throw new TypeError('createRealtimeServer: issuer is required')
  installHeartbeatGuard()
  const now = options.now ?? Date.now
  const logger = options.logger ?? silentLogger
  const tolerance = options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS
  const allowedOrigins = normalizeOrigins(options.allowedOrigins ?? [])
  const metrics = createMetrics()
  const revocations = options.revocations ?? new RevocationSet()

  const keySet =
    options.keySet ??
    createKeySet({
      jwksUrl: options.jwksUrl ?? `${options.issuer.replace(/\/+$/, '')}${JWKS_PATH}`,
      issuer: options.issuer,
      ...(options.fetch && { fetch: options.fetch }),
      now,
      importNative: importNativeKey,
      ...options.jwks,
      onFetch: (outcome) => metrics.jwksFetches.inc({ outcome }),
    })
  const trustedIssuers = new TrustedIssuers({
    issuers: options.trustedIssuers ?? [],
    ...(options.fetch && { fetch: options.fetch }),
    now,
    ...(options.jwks && { jwks: options.jwks }),
    logger,
    onFetch: (issuer, kind, outcome) => metrics.issuerFetches.inc({ issuer, kind, outcome }),
  })
  const grants = new RoomGrants({
    keySet,
    issuer: options.issuer,
    audience: options.audience ?? DEFAULT_AUDIENCE,
    revocations,
    clockToleranceSeconds: tolerance,
    now,
    onOutcome: (outcome) => metrics.roomGrants.inc({ outcome }),
  })
  const registry = new Map<string, EventDefinition<any>>(Object.entries(createBuiltinEvents({ grants })))
  for (const [name, definition] of Object.entries(options.events ?? {})) {
    if (RESERVED_EVENTS.has(name) || name.startsWith('rt:')) throw new TypeError(`event name ${name} is reserved`)
    registry.set(name, definition)
  }
  const verifier = new TokenVerifier({
    keySet,
    issuer: options.issuer,
    audience: options.audience ?? DEFAULT_AUDIENCE,
    revocations,
    trustedIssuers,
    clockToleranceSeconds: tolerance,
    now,
    onVerified: (kid) => metrics.tokensVerified.inc({ kid }),
    onSignatureCheck: (alg) => metrics.signatureChecks.inc({ alg }),
  })
  const limits = new ConnectionLimits(options.limits)
  const sessions = new Sessions({
    clockToleranceSeconds: tolerance,
    now,
    onKick: (code) => metrics.disconnects.inc({ code }),
  })
  const recovery = new RecoveryGate()
  const cluster: RedisCluster | undefined = options.redisUrl
    ? createRedisCluster(options.redisUrl, logger, {
        onPublishesDropped: (count) => metrics.clusterPublishesDropped.inc(count),
      })
    : undefined
  let draining = false
  let keysLoaded = false

  /** Record and enforce on this node only. */
  const applyLocal = (event: Revocation): number => {
    if (!revocations.add(event, now() / 1000)) return 0
    if (event.kind === 'key') refetchKeysOnKeyEvent(keySet, logger)
    return sessions.revoke(event)
  }
  /** An event from the edge (push, pull, or `revoke()`): enforce here, share with the cluster. */
  const applyFromEdge = (event: Revocation): number => {
    const kicked = applyLocal(event)
    if (cluster) {
      io.serverSideEmit(CLUSTER_REVOCATION_EVENT, event)
      cluster.persist(event).catch((err: Error) => logger('warn', 'revocation not stored in redis', { error: err.message }))
    }
    return kicked
  }
  const receivePush = createPushReceiver({ getKey: pushKeyResolver(keySet), issuer: options.issuer, now })
  const feed = options.revocationFeed
    ? new FeedPoller({
        edgeUrl: options.revocationFeed.edgeUrl,
        feedToken: options.revocationFeed.token,
        ...(options.revocationFeed.intervalMs !== undefined && { intervalMs: options.revocationFeed.intervalMs }),
        ...(options.fetch && { fetch: options.fetch }),
        apply: (events) => events.forEach(applyFromEdge),
        logger,
      })
    : undefined
  const notReadyReasons = (): string[] => {
    if (draining) return ['draining']
    const reasons: string[] = []
    if (!keysLoaded || !keySet.isReady()) reasons.push('signing keys not loaded from the edge')
    if (feed && !feed.synced()) reasons.push('revocation feed not yet read')
    if (cluster && !cluster.connected()) reasons.push('redis disconnected (degraded: serving local sockets only)')
    return reasons
  }

  // Another issuer whose keys are missing degrades the node without taking
  // it out of rotation: the edge's users are still served (docs/protocol.md §12).
  const degradedReasons = () => trustedIssuers.notReadyReasons()
  const app = createHttpApp({ notReadyReasons, degradedReasons, draining: () => draining }, metrics.registry, async (body) => {
    const events = await receivePush(body)
    events.forEach(applyFromEdge)
    logger('debug', 'revocation push applied', { events: events.length })
    return events.length
  })
  const httpServer = createAdaptorServer({ fetch: app.fetch }) as HttpServer
  const io = new Server<any, any, any, SocketData>(httpServer, {
    path: options.path ?? '/socket.io',
    serveClient: false,
    // The default wire format; it also notes each event's frame size for the envelope size check.
    parser: frameSizeParser,
    // Engine.IO v3 clients predate the protocol's handshake `auth`; refuse them.
    allowEIO3: false,
    perMessageDeflate: false,
    httpCompression: false,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    ...(options.heartbeat && {
      pingInterval: options.heartbeat.pingIntervalMs,
      pingTimeout: options.heartbeat.pingTimeoutMs,
    }),
    // A frame that cannot hold a valid envelope, however escaped, is dropped before it is parsed.
    maxHttpBufferSize: MAX_FRAME_BYTES,
    // Replies to a batch of pipelined messages leave in one write.
    wsEngine: CoalescingWebSocketServer,
    cors: { origin: allowedOrigins === '*' ? true : [...allowedOrigins], credentials: true },
    cleanupEmptyChildNamespaces: true,
    ...(cluster && { adapter: cluster.adapter }),
    ...(options.connectionStateRecovery && {
      connectionStateRecovery: {
        maxDisconnectionDuration: options.connectionStateRecovery.maxDisconnectionDurationMs,
        // Socket.IO's default skips middleware on recovery, letting a revoked user back in.
        skipMiddlewares: false,
      },
    }),
  })

  guardSlowConsumers(io.engine, {
    ...(options.maxQueuedBytesPerSocket !== undefined && { maxQueuedBytes: options.maxQueuedBytesPerSocket }),
    onExceeded: (info) => {
      metrics.slowConsumerDisconnects.inc()
      logger('warn', 'slow consumer disconnected', info)
    },
  })

  const onRefused = (code: string, unexpected: unknown) => {
    metrics.handshakes.inc({ outcome: code })
    if (unexpected) logger('error', 'handshake failed unexpectedly', { error: String(unexpected) })
    else logger('debug', 'handshake refused', { code })
  }
  const chain = handshakeChain({
    allowedOrigins,
    limits,
    verifier,
    tokenSource: options.tokenSource ?? {},
    trustProxy: options.trustProxy ?? false,
    now,
    ...(options.loginUrl !== undefined && { loginUrl: options.loginUrl }),
    onRefused,
  })
  const compat = options.socketioJwtCompat
    ? createSocketioJwtCompat({
        ...options.socketioJwtCompat,
        tokenSource: options.tokenSource ?? {},
        verifier,
        limits,
        onRefused,
        onOutcome: (outcome) => metrics.socketioJwtCompat.inc({ outcome }),
      })
    : undefined
  const install = createDispatcher({
    io,
    registry,
    verifier,
    sessions,
    requireEnvelopeToken: options.requireEnvelopeToken ?? false,
    clockToleranceSeconds: tolerance,
    rate: options.messageRate ?? { perSecond: 20, burst: 40 },
    now,
    onMessage: (event, outcome) => metrics.messages.inc(registry.has(event) ? event : 'unregistered', outcome),
    onUnexpected: (err, event) => logger('error', 'handler failed', { event, error: String(err) }),
  })
  const userMiddleware = new Map<string, SocketMiddleware[]>()

  // A draining node takes no new connections, and until the feed has been read
  // once a handshake could carry a token a missed event covers: both refuse
  // as unavailable (retryable), so the client tries again, elsewhere or later.
  const admissionGate: SocketMiddleware = function admissionGate(_socket, next) {
    const reason = draining ? 'node draining' : feed && !feed.synced() ? 'revocation feed not yet read' : undefined
    if (reason === undefined) return next()
    metrics.handshakes.inc({ outcome: 'unavailable' })
    next(connectError(new AppError('unavailable', reason)))
  }
  const [originGuard, connectionRate, verifyToken] = chain

  const setUp = (nsp: Namespace<any, any, any, SocketData>) => {
    const verify = compat ? compat.gate(verifyToken!) : verifyToken!
    for (const fn of [originGuard!, connectionRate!, admissionGate, verify]) nsp.use(fn)
    // Registered later with use(); looked up per handshake so order holds.
    const runUser: SocketMiddleware = (socket, next) => runAll(userMiddleware.get(nsp.name) ?? [], socket, next)
    // A socket yet to authenticate (socketio-jwt compat) has no identity: its user middleware runs once it has one.
    nsp.use((socket, next) => (compat?.isPending(socket) ? next() : runUser(socket, next)))
    if (options.connectionStateRecovery) recovery.install(nsp)
    nsp.on('connection', (socket) => {
      if (compat?.isPending(socket) && !draining) {
        return compat.hold(socket, { middleware: runUser, admit: (verified) => admit(socket, verified) })
      }
      const verified = takeVerified(socket)
      if (!verified || draining) {
        socket.disconnect(true)
        return
      }
      admit(socket, verified)
    })
    const admit = (socket: Socket<any, any, any, SocketData>, verified: VerifiedToken) => {
      limits.open(clientAddress(socket, options.trustProxy ?? false), verified.claims.sub)
      sessions.attach(socket, verified)
      install(socket)
      metrics.handshakes.inc({ outcome: 'ok' })
      metrics.connections.inc()
      socket.on('disconnect', onDisconnect)
      const delivered = recovery.complete(socket)
      if (delivered > 0) logger('debug', 'recovered session re-authenticated', { delivered })
    }
  }
  // One listener shared by every socket (it is called with the socket as
  // `this`), rather than a closure each. The user cannot change in-band, so
  // the connection is released under the same address and user it was counted.
  function onDisconnect(this: Socket<any, any, any, SocketData>) {
    sessions.detach(this)
    limits.close(clientAddress(this, options.trustProxy ?? false), this.data.auth.sub)
    metrics.connections.dec()
  }
  setUp(io.of('/'))
  io.on('new_namespace', (nsp) => {
    if (nsp.name !== '/') setUp(nsp)
  })
  if (options.middleware) userMiddleware.set('/', [options.middleware].flat())

  if (cluster) {
    io.on(CLUSTER_REVOCATION_EVENT as never, (event: Revocation) => void applyLocal(event))
    // A node that was away (or whose Redis was) picks up what it missed.
    cluster.onConnect(() => {
      cluster.loadAll().then(
        (events) => events.forEach(applyLocal),
        (err: Error) => logger('warn', 'revocations not loaded from redis', { error: err.message }),
      )
    })
  }
  const prune = setInterval(() => revocations.prune(now() / 1000), 60_000)
  prune.unref()

  // Load keys in the background: the service starts while the edge is briefly down.
  let retry: ReturnType<typeof setTimeout> | undefined
  const loadKeys = () => {
    keySet.load().then(
      () => {
        keysLoaded = true
        logger('info', 'signing keys loaded', { kids: keySet.kids() })
      },
      (err) => {
        logger('warn', 'signing keys not loaded; retrying', { error: String(err) })
        retry = setTimeout(loadKeys, 2000)
        retry.unref()
      },
    )
  }

  return {
    io,
    httpServer,
    metrics,
    revocations,
    keySet,
    async listen(port = 0, host = '127.0.0.1') {
      loadKeys()
      trustedIssuers.start()
      feed?.start()
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject)
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject)
          resolve()
        })
      })
      return httpServer.address() as AddressInfo
    },
    use(namespace, middleware) {
      const list = userMiddleware.get(namespace) ?? []
      list.push(...[middleware].flat())
      userMiddleware.set(namespace, list)
      if (namespace !== '/') io.of(namespace)
    },
    revoke: applyFromEdge,
    notReadyReasons,
    degradedReasons,
    async close({ timeoutMs = 10_000 } = {}) {
      draining = true
      if (retry) clearTimeout(retry)
      clearInterval(prune)
      feed?.stop()
      const deadline = Date.now() + timeoutMs
      const kicked = sessions.all()
      for (const socket of kicked) sessions.kick(socket, new AppError('unavailable', 'node draining'))
      if (compat) kicked.push(...compat.drain())
      // io.close() discards what a connection still has buffered, which would
      // drop the DISCONNECT packet queued behind rt:error: let each one flush.
      await connectionsClosed(kicked, timeoutMs)
      const closed = new Promise<void>((resolve) => {
        io.close(() => resolve())
      })
      const timer = setTimeout(() => httpServer.closeAllConnections(), Math.max(0, deadline - Date.now()))
      await closed
      clearTimeout(timer)
      httpServer.closeAllConnections()
      sessions.close()
      keySet.close()
      trustedIssuers.close()
      metrics.close()
      await cluster?.close()
    },
  }
}

/** Resolve once the connections of `sockets` have closed, or after `timeoutMs`. */
function connectionsClosed(sockets: { conn: Socket['conn'] }[], timeoutMs: number): Promise<void> {
  const open = new Set(sockets.map((s) => s.conn).filter((conn) => conn.readyState !== 'closed'))
  if (open.size === 0) return Promise.resolve()
  return new Promise((resolve) => {
    let left = open.size
    const timer = setTimeout(resolve, timeoutMs)
    for (const conn of open) {
      conn.once('close', () => {
        if (--left > 0) return
        clearTimeout(timer)
        resolve()
      })
    }
  })
}

function runAll(list: SocketMiddleware[], socket: Parameters<SocketMiddleware>[0], done: (err?: Error) => void): void {
  let i = 0
  const step = (err?: Error) => {
    if (err || i >= list.length) return done(err)
    const fn = list[i++]!
    try {
      fn(socket, step)
    } catch (thrown) {
      done(thrown instanceof Error ? thrown : new Error(String(thrown)))
    }
  }
  step()
}
