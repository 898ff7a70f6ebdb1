import type { Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AccessClaims } from '../shared/claims.ts'
import type { KeySet } from '../shared/jwks/key-set.ts'
import type { SocketMiddleware } from './admission/handshake.ts'
import type { TrustedIssuer } from './auth/issuers/schema.ts'
import type { SocketioJwtCompatOptions } from './admission/socketio-jwt-compat.ts'
import type { TokenSourceOptions } from './admission/token-source.ts'
import type { ConnectionLimitOptions } from './limits/connection-limits.ts'
import type { RoomLimitOptions } from './limits/room-limits.ts'
import type { Logger } from './log.ts'
import type { EventDefinition } from './messages/registry.ts'
import type { Metrics } from './metrics.ts'
import type { RevocationSet } from './revocations/revocation-set.ts'
import type { RealtimeIo, Revocation } from './types.ts'
import type { LifecycleSettings } from './lifecycle/lifecycle.ts'
import type { Presence, PresenceSettings } from './presence/presence.ts'
import type { ServerApiSettings } from './api/server-api.ts'

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
  /** Caps on rooms joined per socket and per user on this node. @default { perSocket: 100, perUser: 500 } */
  rooms?: Omit<RoomLimitOptions, 'onRefused'>
  /** Per-socket message rate. @default { perSecond: 20, burst: 40 } */
  messageRate?: { perSecond: number; burst: number }
  /** Socket.IO path. @default '/socket.io' */
  path?: string
  /**
   * A server the application owns (Express's, Fastify's, a plain `node:http` one): Socket.IO
   * and the realtime HTTP routes attach to it, beside the application's own handler, and the
   * keys load once it listens. Without it the service makes its own server.
   */
  httpServer?: HttpServer
  /**
   * Where the HTTP routes (`/healthz`, `/readyz`, `/metrics`, `/api/v1/…`,
   * `/internal/revocations`) sit: the base of this node's URL in the edge's `REALTIME_URLS`
   * and in publishers' `realtimeUrl`. @default '/realtime' with `httpServer`, else ''
   */
  httpPrefix?: string
  /** Time a client may take between opening a connection and sending CONNECT, ms. @default 5000 */
  connectTimeoutMs?: number
  /** Enable connection state recovery (re-authenticated before anything is delivered). @default false */
  connectionStateRecovery?: false | { maxDisconnectionDurationMs: number }
  /** Use X-Forwarded-For for client addresses, and X-Forwarded-Host/-Proto for the own origin (only behind your own proxy). @default false */
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
  /** Pull the edge's revocation feed (docs/protocol.md §6); without it only pushes and `revoke()` apply. */
  revocationFeed?: { edgeUrl: string; token: string; intervalMs?: number }
  /** Scale out: Redis Streams adapter, shared revocation set, revocations fanned out to every node. */
  redisUrl?: string
  /**
   * socketio-jwt's post-connect flow, for clients still migrating off it
   * (docs/migrating-from-socketio-jwt.md): a socket with no token has `timeoutMs` to
   * emit `authenticate` `{ token }`. @default false
   */
  socketioJwtCompat?: false | SocketioJwtCompatOptions
  /** The server API's rate per client and the user streams' retention (docs/protocol.md §8, §9). */
  serverApi?: ServerApiSettings
  /** Most bytes queued for one connection before it is closed (slow consumer). @default 1 MiB */
  maxQueuedBytesPerSocket?: number
  /** Engine.IO heartbeat. @default { pingIntervalMs: 25000, pingTimeoutMs: 20000 } */
  heartbeat?: { pingIntervalMs: number; pingTimeoutMs: number }
  /** Issuers trusted besides the edge, each with its own keys (docs/protocol.md §12). @default [] */
  trustedIssuers?: readonly TrustedIssuer[]
  /**
   * Waits between attempts to load a trusted issuer whose discovery or JWKS
   * fails: doubling from `minMs`, jittered, up to `maxMs`.
   * @default { minMs: 2_000, maxMs: 300_000 }
   */
  issuerRetry?: { minMs: number; maxMs: number }
  /** Presence's grace, batch period and bounds (docs/protocol.md §10). @default realtime/constants.ts */
  presence?: PresenceSettings
  /**
   * The URL clients reach this node at, before the Socket.IO path
   * (`REALTIME_PUBLIC_URL`): DPoP proofs name it and the path as their `htu`
   * (docs/protocol.md §15). Set it behind a proxy or load balancer.
   * @default the handshake's own origin (`Host`; with `trustProxy`, `X-Forwarded-Host`/`-Proto`)
   */
  publicUrl?: string
  /**
   * DPoP-bound tokens (docs/protocol.md §15): `nonceSecret` (`REALTIME_DPOP_NONCE`, at least
   * 32 characters, shared by every node) makes the node ask for nonces that rotate every
   * `nonceWindowSeconds`; `replayCacheMaxEntries` bounds a lone node's memory replay cache
   * (`REALTIME_DPOP_REPLAY_MAX`; a cluster uses Redis). @default no nonces, 100_000 entries
   */
  dpop?: { nonceSecret?: string; nonceWindowSeconds?: number; replayCacheMaxEntries?: number }
  /** Lifecycle events and webhooks: `EVENTS_RETENTION`, `WEBHOOKS`, `REALTIME_WEBHOOKS_DELIVER` (docs/protocol.md §16). @default 7 days, none, delivered by this node */
  lifecycle?: LifecycleSettings
}

/** A running (or ready to run) realtime server. */
export interface RealtimeServer {
  io: RealtimeIo
  httpServer: HttpServer
  metrics: Metrics
  revocations: RevocationSet
  keySet: KeySet
  /** Who is in each room (docs/protocol.md §10). */
  presence: Presence
  /** Listen on `port` (0 for any) and `host`; with `httpServer`, listens the application's server. @default 0, '127.0.0.1' */
  listen(port?: number, host?: string): Promise<AddressInfo>
  /** Add the application's middleware (one function or an array) to a namespace, after the service's chain. */
  use(namespace: string, middleware: SocketMiddleware | SocketMiddleware[]): void
  /**
   * Apply a revocation on every node: record it (in Redis too, when
   * clustered), tell the other nodes, and disconnect the local sockets it
   * covers. Returns how many local sockets were disconnected.
   */
  revoke(event: Revocation): number
  /**
   * Verify an access token exactly as a handshake does, revocations included: what
   * `edgegate/hono` and `edgegate/express` check REST requests with in this process.
   *
   * @throws AppError with the contract's code
   */
  verify(token: string): Promise<{ claims: AccessClaims; kid: string }>
  /** Reasons this node is not ready; empty when ready. */
  notReadyReasons(): string[]
  /**
   * Stop accepting, tell clients `rt:error unavailable`, disconnect, close; bounded by
   * `timeoutMs`. Like Socket.IO's `io.close()`, this closes the HTTP server too, the
   * application's included: call it last in your shutdown.
   */
  close(options?: { timeoutMs?: number }): Promise<void>
}
