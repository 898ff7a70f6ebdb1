import {
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  DEFAULT_AUDIENCE,
  DEFAULT_JWKS_MAX_AGE_SECONDS,
  DEFAULT_SERVICE_TOKEN_TTL_SECONDS,
  MAX_ACCESS_TOKEN_TTL_SECONDS,
  MAX_SERVICE_TOKEN_TTL_SECONDS,
  SERVICE_AUDIENCE,
  SIGNING_ALGORITHMS,
  MIN_JWKS_MAX_AGE_SECONDS,
  type SigningAlgorithm,
} from '../shared/constants.ts'
import {
  MAX_SESSIONS_PER_USER,
  REFRESH_LIMIT_PER_ADDRESS,
  REFRESH_LIMIT_PER_SESSION,
} from './constants.ts'
import { parseHttpUrl, trimTrailingSlashes } from '../shared/url.ts'
import { readAccountsConfig, type AccountsConfig } from './accounts/config.ts'
import { readPasskeyConfig, type PasskeyConfig } from './passkeys/config.ts'
import { readDpopConfig, type DpopConfig } from './dpop/config.ts'
import { ConfigError } from './config-error.ts'

export { ConfigError }

/** The edge's configuration, parsed once per `env` from its bindings. */
export interface EdgeConfig {
  /** `iss` of every token; base of the discovery document. */
  issuer: string
  /** `aud` of access tokens. */
  audience: string | string[]
  /** Access-token lifetime, seconds. */
  accessTokenTtlSeconds: number
  /** Service-token lifetime (`SERVICE_TOKEN_TTL`), seconds (docs/protocol.md §8: at most 900). */
  serviceTokenTtlSeconds: number
  /** Absolute session lifetime, seconds. */
  sessionTtlSeconds: number
  /** JWKS max-age and key pre-publication period, seconds. */
  jwksMaxAgeSeconds: number
  /** Active-key lifetime before scheduled rotation, seconds. */
  rotationPeriodSeconds: number
  /** Algorithm of new signing keys. */
  signingAlg: SigningAlgorithm
  /** Realtime base URLs revocations are pushed to. */
  realtimeUrls: string[]
  /** The realtime URL browsers use (the demo page). */
  realtimePublicUrl: string
  /** `DEMO_EVENTS_URL`: the lifecycle events stream the demo page shows (`npm start`'s receiver); none when unset. */
  demoEventsUrl: string | undefined
  /** Refreshes of one session per throttle window before 429. */
  refreshLimitPerSession: number
  /** Refresh requests from one address per throttle window before 429. */
  refreshLimitPerAddress: number
  /** Live sessions per user; a login beyond it revokes the least recently used. */
  maxSessionsPerUser: number
  /** Accounts (docs/protocol.md §13); see {@link AccountsConfig}. */
  accounts: AccountsConfig
  /** The passkey relying party (docs/protocol.md §14). */
  passkeys: PasskeyConfig
  /** DPoP (docs/protocol.md §15); see {@link DpopConfig}. */
  dpop: DpopConfig
}

const parsed = new WeakMap<object, EdgeConfig>()

/**
 * Parse and validate the edge's variables. The result is cached per `env`
 * object, so this is free on every request after the first.
 *
 * @param env - the worker's bindings
 * @throws ConfigError naming the first bad variable
 */
export function readConfig(env: Env): EdgeConfig {
  const hit = parsed.get(env)
  if (hit) return hit
  const vars = env as unknown as Record<string, string | undefined>
  const issuer = readIssuer(vars.ISSUER)
  const config: EdgeConfig = {
    issuer,
    audience: readAudience(vars.AUDIENCE),
    accessTokenTtlSeconds: readSeconds(
      vars,
      'ACCESS_TOKEN_TTL',
      DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
      10,
      MAX_ACCESS_TOKEN_TTL_SECONDS,
    ),
    serviceTokenTtlSeconds: readSeconds(
      vars,
      'SERVICE_TOKEN_TTL',
      DEFAULT_SERVICE_TOKEN_TTL_SECONDS,
      10,
      MAX_SERVICE_TOKEN_TTL_SECONDS,
    ),
    sessionTtlSeconds: readSeconds(vars, 'SESSION_TTL', 30 * 24 * 3600, 300, 400 * 24 * 3600),
    jwksMaxAgeSeconds: readSeconds(
      vars,
      'JWKS_MAX_AGE',
      DEFAULT_JWKS_MAX_AGE_SECONDS,
      MIN_JWKS_MAX_AGE_SECONDS,
      24 * 3600,
    ),
    rotationPeriodSeconds: readSeconds(vars, 'ROTATION_PERIOD', 86400, 60, 365 * 24 * 3600),
    signingAlg: readAlg(vars.SIGNING_ALG),
    realtimeUrls: readUrls('REALTIME_URLS', vars.REALTIME_URLS),
    realtimePublicUrl:
      readUrls('REALTIME_PUBLIC_URL', vars.REALTIME_PUBLIC_URL ?? 'http://127.0.0.1:3000')[0] ?? '',
    demoEventsUrl: readOptionalUrl('DEMO_EVENTS_URL', vars.DEMO_EVENTS_URL),
    refreshLimitPerSession: readCount(vars, 'REFRESH_LIMIT_PER_SESSION', REFRESH_LIMIT_PER_SESSION),
    refreshLimitPerAddress: readCount(vars, 'REFRESH_LIMIT_PER_ADDRESS', REFRESH_LIMIT_PER_ADDRESS),
    maxSessionsPerUser: readCount(vars, 'MAX_SESSIONS_PER_USER', MAX_SESSIONS_PER_USER),
    accounts: readAccountsConfig(vars),
    passkeys: readPasskeyConfig(vars, issuer),
    dpop: readDpopConfig(vars),
  }
  parsed.set(env, config)
  return config
}

function readIssuer(value: string | undefined): string {
  if (!value) throw new ConfigError('ISSUER is required: the public URL of the edge')
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new ConfigError('ISSUER must be an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new ConfigError('ISSUER must be http(s)')
  if (url.search || url.hash) throw new ConfigError('ISSUER must not have a query or fragment')
  return trimTrailingSlashes(value)
}

function readAudience(value: string | undefined): string | string[] {
  const list = (value ?? DEFAULT_AUDIENCE)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (list.length === 0) throw new ConfigError('AUDIENCE must name at least one audience')
  // User tokens must never pass where service tokens are expected (docs/protocol.md §8).
  if (list.includes(SERVICE_AUDIENCE))
    throw new ConfigError(`AUDIENCE must not include ${SERVICE_AUDIENCE}`)
  return list.length === 1 ? list[0]! : list
}

function readUrls(name: string, value: string | undefined): string[] {
  const list = (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const entry of list) {
    if (!parseHttpUrl(entry))
      throw new ConfigError(`${name} must be a comma-separated list of http(s) URLs`)
  }
  return list
}

function readOptionalUrl(name: string, value: string | undefined): string | undefined {
  if (!value) return undefined
  if (!parseHttpUrl(value)) throw new ConfigError(`${name} must be an http(s) URL`)
  return value
}

function readAlg(value: string | undefined): SigningAlgorithm {
  const alg = value ?? 'ES256'
  if (!(SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new ConfigError(`SIGNING_ALG must be one of ${SIGNING_ALGORITHMS.join(', ')}`)
  }
  return alg as SigningAlgorithm
}

function readSeconds(
  vars: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = vars[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number of seconds`)
  const n = Number(raw)
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max} seconds`)
  return n
}

/** A positive whole number (a limit or a cap) from the variable `name`, or `fallback` when unset. */
function readCount(
  vars: Record<string, string | undefined>,
  name: string,
  fallback: number,
): number {
  const raw = vars[name]
  if (raw === undefined || raw === '') return fallback
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : 0
  if (n < 1) throw new ConfigError(`${name} must be a whole number from 1 to 999999999`)
  return n
}
