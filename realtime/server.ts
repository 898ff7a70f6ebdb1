import { createAdaptorServer } from '@hono/node-server'
import type { Server as HttpServer } from 'node:http'
import { CLOCK_TOLERANCE_SECONDS } from '../shared/constants.ts'
import { createPublishStore, createReplayBudget, createServerApiRoutes } from './api/server-api.ts'
import { createKeyLoader } from './auth/key-loader.ts'
import { createLifecycle } from './lifecycle/lifecycle.ts'
import { normalizeOrigins } from './admission/origin-guard.ts'
import { serviceChain } from './admission/service-chain.ts'
import { createServerDpop } from './admission/dpop-setup.ts'
import { createVerification } from './auth/verification.ts'
import { createRedisCluster } from './cluster/redis-cluster.ts'
import * as C from './constants.ts'
import type { RealtimeContext } from './context.ts'
import { createHttpApp } from './http/app.ts'
import { attachHttpApp, checkHttpPrefix } from './http/attach.ts'
import { listen } from './http/listen.ts'
import { readiness } from './http/readiness.ts'
import { createIo } from './io.ts'
import { ConnectionLimits } from './limits/connection-limits.ts'
import { RoomLimits } from './limits/room-limits.ts'
import { silentLogger } from './log.ts'
import { createEventRegistry } from './messages/create-registry.ts'
import { createDispatcher } from './messages/dispatcher.ts'
import { createMetrics } from './metrics.ts'
import { presenceForServer } from './presence/for-server.ts'
import { createPresenceReads } from './presence/reads.ts'
import { createRevocationApplier } from './revocations/apply.ts'
import { FeedPoller } from './revocations/feed-poller.ts'
import { pushKeyResolver } from './revocations/key-events.ts'
import { createPushReceiver } from './revocations/push-receiver.ts'
import { RevocationSet } from './revocations/revocation-set.ts'
import type { RealtimeServer, RealtimeServerOptions } from './server-options.ts'
import { createNamespaces } from './admission/namespaces.ts'
import { RecoveryGate } from './session/recovery-gate.ts'
import { Sessions } from './session/sessions.ts'
import { createShutdown } from './session/shutdown.ts'

export type { RealtimeServer, RealtimeServerOptions } from './server-options.ts'

/**
 * Create the realtime service: Socket.IO and a small Hono app (`/healthz`,
 * `/readyz`, `/metrics`, the server API, the revocation push) on one HTTP
 * server, its own or the application's (`httpServer`, the routes then under
 * `httpPrefix`); every handshake verified against the edge's JWKS, every
 * message re-validated.
 *
 * The server is a composition of parts sharing one {@link RealtimeContext}:
 * the handshake chain and namespaces (session/), revocations (revocations/),
 * readiness and the HTTP app (http/), key loading (auth/), shutdown
 * (session/). A new part takes `ctx` and is wired in below.
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
  const now = options.now ?? Date.now
  const logger = options.logger ?? silentLogger
  const tolerance = options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS
  const allowedOrigins = normalizeOrigins(options.allowedOrigins ?? [])
  const cookieTokens = Boolean(options.tokenSource?.cookieName)
  if (allowedOrigins === '*' && cookieTokens) {
    throw new TypeError(
      'createRealtimeServer: allowedOrigins "*" with a token cookie lets any site connect as its visitor',
    )
  }
  const socketIoPath = options.path ?? C.DEFAULT_SOCKETIO_PATH
  const attached = options.httpServer
  const prefix = checkHttpPrefix(
    options.httpPrefix ?? (attached ? C.DEFAULT_ATTACHED_HTTP_PREFIX : ''),
    socketIoPath,
  )
  const metrics = createMetrics()
  const revocations = options.revocations ?? new RevocationSet()
  const { keySet, trustedIssuers, grants, verifier } = createVerification(options, {
    ...{ now, logger, metrics, revocations },
    clockToleranceSeconds: tolerance,
  })
  const sessions = new Sessions({
    clockToleranceSeconds: tolerance,
    now,
    onKick: (code) => metrics.disconnects.inc({ code }),
  })
  const cluster = options.redisUrl
    ? createRedisCluster(options.redisUrl, logger, {
        onPublishesDropped: (count) => metrics.clusterPublishesDropped.inc(count),
      })
    : undefined
  // Publish idempotency and user streams (docs/protocol.md §8, §9): Redis when clustered, else memory.
  const redis = cluster && { client: cluster.client, isReady: cluster.connected }
  const publishStore = createPublishStore({
    ...(redis && { redis }),
    ...(options.serverApi && { settings: options.serverApi }),
    now,
  })
  const rooms = new RoomLimits({
    ...options.rooms,
    onRefused: (cap) => metrics.roomJoinsRefused.inc({ cap }),
  })
  const registry = createEventRegistry(options.events, {
    ...{ streams: publishStore, rooms, grants },
    sync: {
      // A user's syncs share one budget on every node (docs/protocol.md §9).
      budget: createReplayBudget({ redis, settings: options.serverApi, now }),
      onReplayed: (bytes) => metrics.syncReplayedBytes.inc(bytes),
      onRefused: () => metrics.syncRefused.inc(),
    },
  })
  const feed = options.revocationFeed
    ? new FeedPoller({
        ...options.revocationFeed,
        feedToken: options.revocationFeed.token,
        ...(options.fetch && { fetch: options.fetch }),
        apply: (events) => revoke.fromEdgeAll(events),
        logger,
      })
    : undefined

  const receivePush = createPushReceiver({
    getKey: pushKeyResolver(keySet),
    issuer: options.issuer,
    now,
  })
  const app = createHttpApp(
    { notReadyReasons: () => notReadyReasons(), draining: () => ctx.state.draining },
    metrics.registry,
    async (body) => {
      const applied = revoke.fromEdgeAll(await receivePush(body))
      logger('debug', 'revocation push applied', { events: applied })
      return applied
    },
    {
      trustProxy: options.trustProxy ?? false,
      now,
      onPush: (outcome) => metrics.revocationPushes.inc({ outcome }),
      prefix,
    },
  )
  const httpServer = attached ?? (createAdaptorServer({ fetch: app.fetch }) as HttpServer)
  const io = createIo(httpServer, {
    path: socketIoPath,
    connectTimeoutMs: options.connectTimeoutMs ?? C.CONNECT_TIMEOUT_MS,
    allowedOrigins,
    corsCredentials: cookieTokens,
    connectionStateRecovery: options.connectionStateRecovery ?? false,
    cluster,
    ...(options.heartbeat && { heartbeat: options.heartbeat }),
    ...(options.maxQueuedBytesPerSocket !== undefined && {
      maxQueuedBytesPerSocket: options.maxQueuedBytesPerSocket,
    }),
    onSlowConsumer: (info) => {
      metrics.slowConsumerDisconnects.inc()
      logger('warn', 'slow consumer disconnected', info)
    },
  })
  const ctx: RealtimeContext = {
    ...{ io, now, logger, metrics, keySet, verifier, revocations, sessions, cluster, feed },
    limits: new ConnectionLimits(options.limits),
    trustProxy: options.trustProxy ?? false,
    state: { draining: false },
  }

  // Lifecycle events (docs/protocol.md §16): presence's transitions and every revocation applied.
  const lifecycle = createLifecycle(
    { redis: cluster?.client, now, logger, registry: metrics.registry },
    options.lifecycle,
  )
  const presence = presenceForServer(ctx, registry, options.presence, lifecycle.onTransition)
  const revoke = createRevocationApplier(ctx, { onApplied: lifecycle.revoked })
  const keys = createKeyLoader(keySet, logger)
  // Every trusted issuer's keys count, as the edge's do (docs/protocol.md §5 /readyz, §12).
  const notReadyReasons = readiness(ctx, keys.loaded, () => trustedIssuers.notReadyReasons())
  app.route(
    C.SERVER_API_PREFIX,
    createServerApiRoutes({
      ...{ io, sessions, now, logger, revocations, getKey: keySet.getKey },
      store: publishStore,
      keysReady: () => keys.loaded() && keySet.isReady(),
      issuer: options.issuer,
      clockToleranceSeconds: tolerance,
      registry: metrics.registry,
      clustered: cluster !== undefined,
      presence: createPresenceReads(presence),
      events: lifecycle.pull,
      ...(options.serverApi && { settings: options.serverApi }),
    }),
  )
  // On the application's server, its own handler answers every path outside the prefix.
  if (attached) attachHttpApp(attached, app, prefix)
  let started = false
  const start = () => {
    if (started) return
    started = true
    keys.start()
    trustedIssuers.start()
    feed?.start()
  }
  // The application listens when it is ready: the keys load from then on.
  if (attached?.listening) start()
  else attached?.once('listening', start)

  // DPoP-bound tokens (docs/protocol.md §15): at the handshake and in band.
  const dpop = createServerDpop(options, {
    ...{ socketIoPath, cluster, metrics, logger, now },
    trustProxy: options.trustProxy ?? false,
  })
  const { chain, compat } = serviceChain(ctx, { ...options, allowedOrigins, dpop })
  const install = createDispatcher({
    ...{ io, registry, verifier, sessions, now, dpop },
    requireEnvelopeToken: options.requireEnvelopeToken ?? false,
    clockToleranceSeconds: tolerance,
    rate: options.messageRate ?? { perSecond: C.MESSAGE_RATE_PER_SECOND, burst: C.MESSAGE_BURST },
    onMessage: (event, outcome) =>
      metrics.messages.inc(registry.has(event) ? event : 'unregistered', outcome),
    onUnexpected: (err, event) => logger('error', 'handler failed', { event, error: String(err) }),
  })
  const namespaces = createNamespaces(ctx, {
    ...{ chain, install, compat },
    recovery: options.connectionStateRecovery ? new RecoveryGate() : undefined,
  })
  if (options.middleware) namespaces.use('/', options.middleware)

  return {
    ...{ io, httpServer, metrics, revocations, keySet, presence, notReadyReasons },
    listen(port = 0, host = '127.0.0.1') {
      start()
      return listen(httpServer, port, host)
    },
    use: namespaces.use,
    verify: (token) => verifier.verify(token),
    revoke: revoke.fromEdge,
    close: createShutdown(ctx, {
      httpServer,
      stop: [keys.stop, revoke.stop, () => feed?.stop(), () => trustedIssuers.close()],
      finish: [presence.close, lifecycle.close],
      ...(compat && { drainPending: () => compat.drain() }),
    }),
  }
}
