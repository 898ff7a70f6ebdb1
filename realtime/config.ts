import type { RealtimeServerOptions } from './server.ts'
import type { LogLevel } from './log.ts'
import { readTrustedIssuers } from './auth/issuers/read-config.ts'
import { MAX_QUEUED_BYTES_PER_SOCKET } from './engine/slow-consumer.ts'
import * as C from './constants.ts'
import { parseWebhooks } from './lifecycle/webhooks/endpoints.ts'
import { CLOCK_TOLERANCE_SECONDS, DEFAULT_AUDIENCE, JWKS_PATH } from '../shared/constants.ts'
import { parseHttpUrl, trimTrailingSlashes } from '../shared/url.ts'

/** The runnable service's configuration, from environment variables. */
export interface ServiceConfig {
  port: number
  host: string
  shutdownTimeoutMs: number
  logLevel: LogLevel
  server: RealtimeServerOptions
}

/** Every variable the service reads, with its default, for docs/configuration.md and for `--help`. */
export const VARIABLES: Record<string, string> = {
  REALTIME_PORT: String(C.DEFAULT_PORT),
  REALTIME_HOST: C.DEFAULT_HOST,
  EDGE_URL: C.DEFAULT_EDGE_URL,
  ISSUER: '$EDGE_URL',
  JWKS_URL: `$ISSUER${JWKS_PATH}`,
  AUDIENCE: DEFAULT_AUDIENCE,
  ALLOWED_ORIGINS: '$EDGE_URL',
  TOKEN_COOKIE: '(off)',
  ALLOW_QUERY_TOKEN: 'false',
  REQUIRE_ENVELOPE_TOKEN: 'false',
  CLOCK_TOLERANCE: String(CLOCK_TOLERANCE_SECONDS),
  CONNECT_TIMEOUT_MS: String(C.CONNECT_TIMEOUT_MS),
  CONNECTION_RATE: String(C.CONNECTION_RATE_PER_SECOND),
  MAX_CONNECTIONS_PER_ADDRESS: String(C.MAX_CONNECTIONS_PER_ADDRESS),
  MAX_CONNECTIONS_PER_USER: String(C.MAX_CONNECTIONS_PER_USER),
  MESSAGE_RATE: String(C.MESSAGE_RATE_PER_SECOND),
  MESSAGE_BURST: String(C.MESSAGE_BURST),
  MAX_ROOMS_PER_SOCKET: String(C.MAX_ROOMS_PER_SOCKET),
  MAX_ROOMS_PER_USER: String(C.MAX_ROOMS_PER_USER),
  CONNECTION_STATE_RECOVERY_MS: '0',
  TRUST_PROXY: 'false',
  LOGIN_URL: '(none)',
  JWKS_COOLDOWN_MS: String(C.JWKS_COOLDOWN_MS),
  JWKS_MAX_STALE_MS: String(C.JWKS_MAX_STALE_MS),
  SHUTDOWN_TIMEOUT_MS: String(C.SHUTDOWN_TIMEOUT_MS),
  LOG_LEVEL: 'info',
  REVOCATION_FEED_TOKEN: '(pull off)',
  REVOCATION_POLL_MS: String(C.REVOCATION_POLL_MS),
  REDIS_URL: '(single node)',
  SOCKETIO_JWT_COMPAT_MS: '0',
  TRUSTED_ISSUERS: '(none: the edge only)',
  TRUSTED_ISSUERS_FILE: '(none)',
  PRESENCE_GRACE_MS: String(C.PRESENCE_GRACE_MS),
  PRESENCE_BATCH_MS: String(C.PRESENCE_BATCH_MS),
  API_RATE: String(C.DEFAULT_API_RATE_PER_SECOND),
  API_BURST: String(C.DEFAULT_API_BURST),
  USER_STREAM_MAX: String(C.DEFAULT_USER_STREAM_MAX),
  USER_STREAM_TTL: String(C.DEFAULT_USER_STREAM_TTL_SECONDS),
  MAX_QUEUED_BYTES_PER_SOCKET: String(MAX_QUEUED_BYTES_PER_SOCKET),
  REALTIME_PING_INTERVAL_MS: String(C.PING_INTERVAL_MS),
  REALTIME_PING_TIMEOUT_MS: String(C.PING_TIMEOUT_MS),
  EVENTS_RETENTION: String(C.DEFAULT_EVENTS_RETENTION_SECONDS),
  WEBHOOKS: '[] (none)',
  WEBHOOK_CLAIM_IDLE_MS: String(C.WEBHOOK_CLAIM_IDLE_MS),
  REALTIME_PUBLIC_URL: "(the handshake's own origin)",
  REALTIME_DPOP_NONCE: '(off)',
  REALTIME_DPOP_REPLAY_MAX: String(C.DPOP_REPLAY_CACHE_MAX_ENTRIES),
  REALTIME_WEBHOOKS_DELIVER: 'true',
}

/** Variables with bad values: one message per variable. */
export class ConfigErrors extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(problems.join('\n'))
    this.name = 'ConfigErrors'
    this.problems = problems
  }
}

/**
 * Read and validate the service's configuration. Every bad variable is
 * reported, not just the first.
 *
 * @param env - the environment. @default process.env
 * @throws ConfigErrors listing each bad variable
 */
export function readServiceConfig(
  env: Record<string, string | undefined> = process.env,
): ServiceConfig {
  const problems: string[] = []
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]
    if (raw === undefined || raw === '') return fallback
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`)
      return fallback
    }
    return Number(raw)
  }
  const bool = (name: string): boolean => {
    const raw = env[name]
    if (raw === undefined || raw === '') return false
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`)
    return false
  }
  const url = (name: string, fallback: string): string => {
    const raw = env[name] || fallback
    // A derived default repeats its source's error; report only what was set.
    if (!parseHttpUrl(raw) && env[name]) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected an http(s) URL`)
    }
    return trimTrailingSlashes(raw)
  }

  const edgeUrl = url('EDGE_URL', C.DEFAULT_EDGE_URL)
  const issuer = url('ISSUER', edgeUrl)
  const jwksUrl = url('JWKS_URL', `${issuer}${JWKS_PATH}`)
  const audience = (env.AUDIENCE || DEFAULT_AUDIENCE)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (audience.length === 0)
    problems.push(
      `AUDIENCE=${JSON.stringify(env.AUDIENCE)}: expected one or more comma-separated audiences`,
    )
  let allowedOrigins: string[] | '*' = '*'
  const rawOrigins = env.ALLOWED_ORIGINS ?? safeOrigin(edgeUrl)
  if (rawOrigins.trim() !== '*') {
    allowedOrigins = rawOrigins
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    // The default derived from EDGE_URL is checked there; report only what was set.
    for (const origin of env.ALLOWED_ORIGINS === undefined ? [] : allowedOrigins) {
      try {
        if (new URL(origin).origin !== trimTrailingSlashes(origin)) throw new Error()
      } catch {
        problems.push(
          `ALLOWED_ORIGINS: ${JSON.stringify(origin)} is not an origin (scheme://host[:port])`,
        )
      }
    }
  }
  const logLevel = (env.LOG_LEVEL || 'info') as LogLevel
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: expected debug, info, warn or error`)
  const cookie = env.TOKEN_COOKIE
  if (cookie !== undefined && cookie !== '' && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie)) {
    problems.push(`TOKEN_COOKIE=${JSON.stringify(cookie)}: not a cookie name`)
  }
  if (allowedOrigins === '*' && cookie) {
    // Any site could then open a socket with its visitor's cookie (hardening issue 15 item 8).
    problems.push(
      'ALLOWED_ORIGINS=* with TOKEN_COOKIE: any site could connect as its visitor; list the origins',
    )
  }
  const loginUrl = env.LOGIN_URL || undefined
  if (loginUrl !== undefined && !parseHttpUrl(loginUrl)) {
    // Sent to clients as `redirect`: never a javascript: or data: URL.
    problems.push(`LOGIN_URL=${JSON.stringify(loginUrl)}: expected an http(s) URL`)
  }
  const recoveryMs = int('CONNECTION_STATE_RECOVERY_MS', 0, 0, 24 * 3600 * 1000)
  const pollMs = int('REVOCATION_POLL_MS', C.REVOCATION_POLL_MS, 100, 60_000)
  // socketio-jwt's post-connect flow: time a tokenless socket has to authenticate; 0 is off.
  const compatMs = int('SOCKETIO_JWT_COMPAT_MS', 0, 0, 60_000)
  const redisUrl = env.REDIS_URL || undefined
  if (redisUrl !== undefined) {
    try {
      if (!['redis:', 'rediss:'].includes(new URL(redisUrl).protocol)) throw new Error()
    } catch {
      problems.push('REDIS_URL: expected redis://[user:password@]host[:port][/db] or rediss://…')
    }
  }

  // docs/protocol.md §15: the URL DPoP proofs name, and the node's nonces.
  const publicUrl = env.REALTIME_PUBLIC_URL || undefined
  if (publicUrl !== undefined) {
    const parsed = parseHttpUrl(publicUrl)
    if (!parsed || parsed.search || parsed.hash || parsed.username || parsed.password)
      problems.push(
        `REALTIME_PUBLIC_URL=${JSON.stringify(publicUrl)}: expected an http(s) URL without query or credentials`,
      )
  }
  const nonceSecret = env.REALTIME_DPOP_NONCE || undefined
  if (nonceSecret !== undefined && nonceSecret.length < C.DPOP_NONCE_SECRET_MIN_CHARS)
    // Never echo a secret back.
    problems.push(
      `REALTIME_DPOP_NONCE: expected a secret of at least ${C.DPOP_NONCE_SECRET_MIN_CHARS} characters, shared by every node`,
    )
  const replayMax = int(
    'REALTIME_DPOP_REPLAY_MAX',
    C.DPOP_REPLAY_CACHE_MAX_ENTRIES,
    100,
    10_000_000,
  )

  // docs/protocol.md §16: the endpoints lifecycle events are pushed to.
  const webhooks = parseWebhooks(env.WEBHOOKS || '[]')
  problems.push(...webhooks.problems)
  // A node that records events but leaves their delivery to another node (a dedicated deliverer).
  const deliver = env.REALTIME_WEBHOOKS_DELIVER ? bool('REALTIME_WEBHOOKS_DELIVER') : true
  if (!deliver && redisUrl === undefined && webhooks.endpoints.length > 0) {
    problems.push(
      "REALTIME_WEBHOOKS_DELIVER=false without REDIS_URL: no other node could deliver this node's events",
    )
  }

  // docs/protocol.md §12: issuers trusted besides the edge, from JSON.
  const trustedIssuers = readTrustedIssuers(env, issuer, problems)

  const config: ServiceConfig = {
    port: int('REALTIME_PORT', C.DEFAULT_PORT, 0, 65535),
    host: env.REALTIME_HOST || C.DEFAULT_HOST,
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', C.SHUTDOWN_TIMEOUT_MS, 0, 600_000),
    logLevel,
    server: {
      issuer,
      jwksUrl,
      audience: audience.length === 1 ? audience[0]! : audience,
      allowedOrigins,
      tokenSource: {
        allowQueryToken: bool('ALLOW_QUERY_TOKEN'),
        ...(cookie ? { cookieName: cookie } : {}),
      },
      requireEnvelopeToken: bool('REQUIRE_ENVELOPE_TOKEN'),
      clockToleranceSeconds: int('CLOCK_TOLERANCE', CLOCK_TOLERANCE_SECONDS, 0, 300),
      connectTimeoutMs: int('CONNECT_TIMEOUT_MS', C.CONNECT_TIMEOUT_MS, 100, 60_000),
      limits: {
        ratePerSecond: int('CONNECTION_RATE', C.CONNECTION_RATE_PER_SECOND, 1, 100_000),
        perAddress: int('MAX_CONNECTIONS_PER_ADDRESS', C.MAX_CONNECTIONS_PER_ADDRESS, 1, 1_000_000),
        perUser: int('MAX_CONNECTIONS_PER_USER', C.MAX_CONNECTIONS_PER_USER, 1, 100_000),
      },
      messageRate: {
        perSecond: int('MESSAGE_RATE', C.MESSAGE_RATE_PER_SECOND, 1, 100_000),
        burst: int('MESSAGE_BURST', C.MESSAGE_BURST, 1, 100_000),
      },
      rooms: {
        perSocket: int('MAX_ROOMS_PER_SOCKET', C.MAX_ROOMS_PER_SOCKET, 1, 100_000),
        perUser: int('MAX_ROOMS_PER_USER', C.MAX_ROOMS_PER_USER, 1, 1_000_000),
      },
      connectionStateRecovery: recoveryMs > 0 ? { maxDisconnectionDurationMs: recoveryMs } : false,
      trustProxy: bool('TRUST_PROXY'),
      ...(loginUrl ? { loginUrl } : {}),
      jwks: {
        cooldownMs: int('JWKS_COOLDOWN_MS', C.JWKS_COOLDOWN_MS, 0, 3_600_000),
        maxStaleMs: int('JWKS_MAX_STALE_MS', C.JWKS_MAX_STALE_MS, 0, 7 * 24 * 3_600_000),
      },
      ...(env.REVOCATION_FEED_TOKEN
        ? { revocationFeed: { edgeUrl, token: env.REVOCATION_FEED_TOKEN, intervalMs: pollMs } }
        : {}),
      ...(redisUrl ? { redisUrl } : {}),
      socketioJwtCompat: compatMs > 0 ? { timeoutMs: compatMs } : false,
      ...(trustedIssuers.length > 0 ? { trustedIssuers } : {}),
      ...(publicUrl ? { publicUrl: trimTrailingSlashes(publicUrl) } : {}),
      dpop: {
        replayCacheMaxEntries: replayMax,
        ...(nonceSecret && nonceSecret.length >= C.DPOP_NONCE_SECRET_MIN_CHARS && { nonceSecret }),
      },
      // docs/protocol.md §10: the grace period, and the batch period (never under a second).
      presence: {
        graceMs: int('PRESENCE_GRACE_MS', C.PRESENCE_GRACE_MS, 0, 3_600_000),
        batchMs: int('PRESENCE_BATCH_MS', C.PRESENCE_BATCH_MS, 1000, 60_000),
      },
      // docs/protocol.md §8 (rate per service client) and §9 (user-stream retention).
      serverApi: {
        rate: {
          perSecond: int('API_RATE', C.DEFAULT_API_RATE_PER_SECOND, 1, 100_000),
          burst: int('API_BURST', C.DEFAULT_API_BURST, 1, 100_000),
        },
        userStream: {
          maxEntries: int('USER_STREAM_MAX', C.DEFAULT_USER_STREAM_MAX, 1, 10_000),
          ttlSeconds: int('USER_STREAM_TTL', C.DEFAULT_USER_STREAM_TTL_SECONDS, 1, 30 * 86_400),
        },
      },
      lifecycle: {
        retentionSeconds: int(
          'EVENTS_RETENTION',
          C.DEFAULT_EVENTS_RETENTION_SECONDS,
          60,
          365 * 86_400,
        ),
        webhooks: webhooks.endpoints,
        deliver,
        delivery: {
          claimIdleMs: int('WEBHOOK_CLAIM_IDLE_MS', C.WEBHOOK_CLAIM_IDLE_MS, 1000, 3_600_000),
        },
      },
      maxQueuedBytesPerSocket: int(
        'MAX_QUEUED_BYTES_PER_SOCKET',
        MAX_QUEUED_BYTES_PER_SOCKET,
        1024,
        1024 ** 3,
      ),
      // Engine.IO's heartbeat, advertised in its handshake: protocol test
      // suites and proxies with short idle timeouts need it shorter.
      heartbeat: {
        pingIntervalMs: int('REALTIME_PING_INTERVAL_MS', C.PING_INTERVAL_MS, 100, 3_600_000),
        pingTimeoutMs: int('REALTIME_PING_TIMEOUT_MS', C.PING_TIMEOUT_MS, 100, 3_600_000),
      },
    },
  }
  if (problems.length > 0) throw new ConfigErrors(problems)
  return config
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}
