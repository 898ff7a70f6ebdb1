import { createAdaptorServer } from '@hono/node-server'
import type { Server as HttpServer } from 'node:http'
import { CLOCK_TOLERANCE_SECONDS, DEFAULT_AUDIENCE, JWKS_PATH } from '../shared/constants.ts'
import { createKeySet } from '../shared/jwks/key-set.ts'
import { handshakeChain, handshakeRefused } from './auth/handshake.ts'
import { createKeyLoader } from './auth/key-loader.ts'
import { normalizeOrigins } from './auth/origin-guard.ts'
import { createSocketioJwtCompat } from './auth/socketio-jwt-compat.ts'
import { TokenVerifier } from './auth/token-verifier.ts'
import { RoomGrants } from './auth/room-grants.ts'
import { TrustedIssuers } from './auth/issuers/trusted-issuers.ts'
import { importNativeKey } from './auth/native-signature.ts'
import { createRedisCluster } from './cluster/redis-cluster.ts'
import type { RealtimeContext } from './context.ts'
import { createHttpApp } from './http/app.ts'
import { listen } from './http/listen.ts'
import { readiness } from './http/readiness.ts'
import { createIo } from './io.ts'
import { ConnectionLimits } from './limits/connection-limits.ts'
import { RoomLimits } from './limits/room-limits.ts'
import { silentLogger } from './log.ts'
import { createDispatcher } from './messages/dispatcher.ts'
import { createEventRegistry } from './messages/create-registry.ts'
import { createPublishStore, createServerApiRoutes } from './api/server-api.ts'
import { createMetrics } from './metrics.ts'
import { createRevocationApplier } from './revocations/apply.ts'
import { FeedPoller } from './revocations/feed-poller.ts'
import { createPushReceiver } from './revocations/push-receiver.ts'
import { pushKeyResolver } from './revocations/key-events.ts'
import { RevocationSet } from './revocations/revocation-set.ts'
import type { RealtimeServer, RealtimeServerOptions } from './server-options.ts'
import { admissionGate } from './session/admission-gate.ts'
import { createNamespaces } from './session/namespaces.ts'
import { RecoveryGate } from './session/recovery-gate.ts'
import { Sessions } from './session/sessions.ts'
import { createShutdown } from './session/shutdown.ts'
import { createPresenceEvent } from './presence/event.ts'
import { createPresence } from './presence/presence.ts'
import { createPresenceReads } from './presence/reads.ts'
import { createRedisStore } from './presence/redis-store.ts'
import { trimTrailingSlashes } from '../shared/url.ts'
import * as C from './constants.ts'

export type { RealtimeServer, RealtimeServerOptions } from './server-options.ts'

/**
 * Create the realtime service: Socket.IO and a small Hono app (`/healthz`,
 * `/readyz`, `/metrics`) on one HTTP server; every handshake verified
 * against the edge's JWKS, every message re-validated.
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
  const tokenSource = options.tokenSource ?? {}
  const cookieTokens = Boolean(tokenSource.cookieName)
  if (allowedOrigins === '*' && cookieTokens) {
    throw new TypeError(
      'createRealtimeServer: allowedOrigins "*" with a token cookie lets any site connect as its visitor',
    )
  }
  const metrics = createMetrics()
  const revocations = options.revocations ?? new RevocationSet()
  const roomLimits = new RoomLimits({
    ...options.rooms,
    onRefused: (cap) => metrics.roomJoinsRefused.inc({ cap }),
  })
  const keySet =
    options.keySet ??
    createKeySet({
      jwksUrl: options.jwksUrl ?? `${trimTrailingSlashes(options.issuer)}${JWKS_PATH}`,
      issuer: options.issuer,
      ...(options.fetch && { fetch: options.fetch }),
      now,
      importNative: importNativeKey,
      ...options.jwks,
      onFetch: (outcome) => metrics.jwksFetches.inc({ outcome }),
    })
  // Other issuers (docs/protocol.md §12) and room grants (§11).
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
  const publishStore = createPublishStore({
    ...(cluster && { redis: { client: cluster.client, isReady: cluster.connected } }),
    ...(options.serverApi && { settings: options.serverApi }),
    now,
  })
  const registry = createEventRegistry(options.events, {
    streams: publishStore,
    rooms: roomLimits,
    grants,
  })
  const feed = options.revocationFeed
    ? new FeedPoller({
        edgeUrl: options.revocationFeed.edgeUrl,
        feedToken: options.revocationFeed.token,
        ...(options.revocationFeed.intervalMs !== undefined && {
          intervalMs: options.revocationFeed.intervalMs,
        }),
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
    {
      notReadyReasons: () => notReadyReasons(),
      // Another issuer's keys missing degrade the node without taking it out
      // of rotation: the edge's users are still served (docs/protocol.md §12).
      degradedReasons: () => trustedIssuers.notReadyReasons(),
      draining: () => ctx.state.draining,
    },
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
    },
  )
  const httpServer = createAdaptorServer({ fetch: app.fetch }) as HttpServer
  const io = createIo(httpServer, {
    path: options.path ?? C.DEFAULT_SOCKETIO_PATH,
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

  // Who is in each room (docs/protocol.md §10), following the main namespace's joins and leaves.
  const presence = createPresence({
    io,
    registry: metrics.registry,
    now,
    logger,
    ...options.presence,
    ...(cluster && {
      store: createRedisStore({
        client: cluster.client,
        onConnect: cluster.onConnect,
        // A closed node's users keep their grace: they may reconnect elsewhere.
        closeTtlMs: options.presence?.graceMs ?? C.PRESENCE_GRACE_MS,
      }),
    }),
  })
  presence.install(io.of('/'))
  registry.set('rt:presence', createPresenceEvent(presence))

  const revoke = createRevocationApplier(ctx)
  const keys = createKeyLoader(keySet, logger)
  const notReadyReasons = readiness(ctx, keys.loaded)
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
      ...(options.serverApi && { settings: options.serverApi }),
    }),
  )

  const onRefused = handshakeRefused(ctx)
  const compat = options.socketioJwtCompat
    ? createSocketioJwtCompat({
        ...options.socketioJwtCompat,
        tokenSource,
        verifier,
        limits: ctx.limits,
        sessions,
        onRefused,
        onOutcome: (outcome) => metrics.socketioJwtCompat.inc({ outcome }),
      })
    : undefined
  const [originGuard, connectionRate, verifyToken] = handshakeChain({
    allowedOrigins,
    limits: ctx.limits,
    sessions,
    verifier,
    tokenSource,
    trustProxy: ctx.trustProxy,
    now,
    ...(options.loginUrl !== undefined && { loginUrl: options.loginUrl }),
    onRefused,
    ...(compat && { onAccepted: compat.decorate }),
  })
  const install = createDispatcher({
    io,
    registry,
    verifier,
    sessions,
    requireEnvelopeToken: options.requireEnvelopeToken ?? false,
    clockToleranceSeconds: tolerance,
    rate: options.messageRate ?? { perSecond: C.MESSAGE_RATE_PER_SECOND, burst: C.MESSAGE_BURST },
    now,
    onMessage: (event, outcome) =>
      metrics.messages.inc(registry.has(event) ? event : 'unregistered', outcome),
    onUnexpected: (err, event) => logger('error', 'handler failed', { event, error: String(err) }),
  })
  const namespaces = createNamespaces(ctx, {
    chain: {
      originGuard: originGuard!,
      connectionRate: connectionRate!,
      admissionGate: admissionGate(ctx),
      verifyToken: verifyToken!,
    },
    install,
    compat,
    recovery: options.connectionStateRecovery ? new RecoveryGate() : undefined,
  })
  if (options.middleware) namespaces.use('/', options.middleware)

  return {
    io,
    httpServer,
    metrics,
    revocations,
    keySet,
    presence,
    listen(port = 0, host = '127.0.0.1') {
      keys.start()
      trustedIssuers.start()
      feed?.start()
      return listen(httpServer, port, host)
    },
    use: namespaces.use,
    revoke: revoke.fromEdge,
    notReadyReasons,
    degradedReasons: () => trustedIssuers.notReadyReasons(),
    close: createShutdown(ctx, {
      httpServer,
      stop: [keys.stop, revoke.stop, () => feed?.stop(), () => trustedIssuers.close()],
      finish: [presence.close],
      ...(compat && { drainPending: () => compat.drain() }),
    }),
  }
}
