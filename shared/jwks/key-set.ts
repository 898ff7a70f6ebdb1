import debug from 'debug'
import type { JWTVerifyGetKey } from 'jose'
import { AppError } from '../errors.ts'
import { parseKeySet, type HeldKey } from './parse-jwks.ts'

const log = debug('edgegate:jwks')

/** Default minimum time between refetches caused by unknown kids or after a failed fetch, in ms. */
const JWKS_COOLDOWN_MS = 30_000
/** Default per-fetch timeout (headers and body), in ms. */
const JWKS_TIMEOUT_MS = 5_000
/** Default freshness when the response has no usable `max-age`, in ms. */
const JWKS_DEFAULT_MAX_AGE_MS = 300_000
/** Default floor of the server's `max-age`, in ms. */
const JWKS_MIN_MAX_AGE_MS = 10_000
/** Default ceiling of the server's `max-age`, in ms. */
const JWKS_MAX_MAX_AGE_MS = 3_600_000
/** Default stale-if-error window past expiry, in ms. */
const JWKS_MAX_STALE_MS = 3_600_000
/** Largest JWKS body read, in characters. */
const JWKS_MAX_BODY_CHARS = 256 * 1024

/** Outcome of one JWKS fetch, as reported to {@link KeySetOptions.onFetch}. */
export type KeySetFetchOutcome = 'ok' | 'not_modified' | 'error'

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /** The edge's JWKS URL, from configuration only (never from a token). http(s) only. */
  jwksUrl: string | URL
  /** The issuer this key set serves; one instance per (issuer, jwksUrl). */
  issuer: string
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /** Clock in ms. @default Date.now */
  now?: () => number
  /** Minimum time between refetches caused by unknown kids, and between retries after a failure. @default 30_000 */
  cooldownMs?: number
  /** Per-fetch timeout, headers and body. @default 5_000 */
  timeoutMs?: number
  /** Freshness when the response has no usable `Cache-Control: max-age`. @default 300_000 */
  defaultMaxAgeMs?: number
  /** Floor of the server's `max-age`. @default 10_000 */
  minMaxAgeMs?: number
  /** Ceiling of the server's `max-age`. @default 3_600_000 */
  maxMaxAgeMs?: number
  /** How long past expiry the last good keys keep verifying while the edge is unreachable. @default 3_600_000 */
  maxStaleMs?: number
  /** Called after every fetch, for metrics. A throw is logged and ignored. */
  onFetch?: (outcome: KeySetFetchOutcome, detail?: { status?: number; error?: string }) => void
}

/** A cached, revalidating client of the edge's JWKS. */
export interface KeySet {
  /** Key resolver for jose `jwtVerify` / `verifyAccessToken`: selects by `kid` only, and requires the header `alg` to equal the key's. */
  getKey: JWTVerifyGetKey
  /** Fetch the key set now (joins a fetch in flight); rejects with `unavailable` if it fails. */
  load(): Promise<void>
  /**
   * Whether usable keys are held (not past the stale-if-error window) and the set is not closed.
   * Like `getKey`, it starts a background revalidation of expired keys (subject to the cooldown
   * after a failure), so a node that gets no handshakes still recovers once the edge answers.
   */
  isReady(): boolean
  /** The `alg`s of the held keys, for the verifier's allow-list. Never `none` or an HMAC. */
  algorithms(): string[]
  /** The `kid`s of the held keys. */
  kids(): string[]
  /** Abort any fetch in flight and drop the keys; afterwards nothing is fetched. */
  close(): void
}

interface Held {
  keys: Map<string, HeldKey>
  etag: string | undefined
  expiresAt: number
}


/**
 * Create the realtime service's client of the edge's JWKS. Unlike a bare
 * jose `createRemoteJWKSet`, it honours `Cache-Control: max-age` (clamped)
 * and `ETag`, revalidates in the background while serving known keys
 * (stale-while-revalidate), keeps the last good keys for `maxStaleMs` past
 * expiry when the edge is unreachable (stale-if-error), makes at most one
 * fetch at a time, and refetches for unknown kids at most once per
 * `cooldownMs`. Token headers such as `jku`, `x5u`, `jwk` and `x5c` are never
 * read.
 *
 * @param options - {@link KeySetOptions}; `jwksUrl` and `issuer` are required
 * @throws TypeError on invalid options
 * @example
 * ```ts
 * const keySet = createKeySet({ jwksUrl: config.jwksUrl, issuer: config.issuer })
 * await keySet.load()
 * const { claims } = await verifyAccessToken(token, keySet.getKey, {
 *   issuer: config.issuer, audience: 'realtime', algorithms: keySet.algorithms(),
 * })
 * ```
 */
export function createKeySet(options: KeySetOptions): KeySet {
  const url = parseUrl(options.jwksUrl)
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
    throw new TypeError('issuer must be a non-empty string')
  }
  const fetchImpl = options.fetch ?? globalThis.fetch
  const now = options.now ?? Date.now
  if (typeof fetchImpl !== 'function' || typeof now !== 'function')
    throw new TypeError('fetch and now must be functions')
  const cooldownMs = duration('cooldownMs', options.cooldownMs, JWKS_COOLDOWN_MS)
  const timeoutMs = duration('timeoutMs', options.timeoutMs, JWKS_TIMEOUT_MS)
  const defaultMaxAgeMs = duration(
    'defaultMaxAgeMs',
    options.defaultMaxAgeMs,
    JWKS_DEFAULT_MAX_AGE_MS,
  )
  const minMaxAgeMs = duration('minMaxAgeMs', options.minMaxAgeMs, JWKS_MIN_MAX_AGE_MS)
  const maxMaxAgeMs = duration('maxMaxAgeMs', options.maxMaxAgeMs, JWKS_MAX_MAX_AGE_MS)
  const maxStaleMs = duration('maxStaleMs', options.maxStaleMs, JWKS_MAX_STALE_MS)
  if (minMaxAgeMs > maxMaxAgeMs) throw new TypeError('minMaxAgeMs must not exceed maxMaxAgeMs')
  const { issuer, onFetch } = options

  let held: Held | undefined
  let inflight: Promise<AppError | undefined> | undefined
  let controller: AbortController | undefined
  let lastAttemptAt: number | undefined
  let lastAttemptFailed = false
  let closed = false

  const usable = (t: number) =>
    held && !closed && t < held.expiresAt + maxStaleMs ? held : undefined
  const cooledDown = (t: number) => lastAttemptAt === undefined || t - lastAttemptAt >= cooldownMs
  const mayRetry = (t: number) => !lastAttemptFailed || cooledDown(t)

  function report(outcome: KeySetFetchOutcome, detail?: { status?: number; error?: string }) {
    try {
      onFetch?.(outcome, detail)
    } catch (err) {
      log('onFetch for %s threw: %O', issuer, err)
    }
  }

  /** Single-flight fetch; resolves to the failure, never rejects. */
  function refresh(): Promise<AppError | undefined> {
    if (closed) return Promise.resolve(new AppError('unavailable', 'key set closed'))
    inflight ??= fetchOnce().finally(() => {
      inflight = undefined
    })
    return inflight
  }

  async function fetchOnce(): Promise<AppError | undefined> {
    lastAttemptAt = now()
    const ctl = new AbortController()
    controller = ctl
    const timer = setTimeout(
      () => ctl.abort(new AppError('unavailable', 'JWKS fetch timed out')),
      timeoutMs,
    )
    let status: number | undefined
    try {
      const headers: Record<string, string> = { accept: 'application/json' }
      if (held?.etag) headers['if-none-match'] = held.etag
      const init: RequestInit = { headers, signal: ctl.signal, redirect: 'manual' }
      const res = await abortable(fetchImpl(url, init), ctl.signal)
      status = res.status
      if (res.status === 304 && held) {
        if (closed) throw new AppError('unavailable', 'key set closed')
        held.expiresAt = now() + maxAgeMs(res.headers)
        lastAttemptFailed = false
        report('not_modified', { status })
        return undefined
      }
      if (res.status !== 200) {
        // Release the connection; a failure to cancel an unread body changes nothing here.
        res.body?.cancel().catch(() => {})
        throw new AppError('unavailable', `JWKS answered HTTP ${res.status}`)
      }
      const keys = await parseKeySet(await abortable(readBody(res), ctl.signal), held?.keys)
      if (closed) throw new AppError('unavailable', 'key set closed')
      held = {
        keys,
        etag: res.headers.get('etag') ?? undefined,
        expiresAt: now() + maxAgeMs(res.headers),
      }
      lastAttemptFailed = false
      report('ok', { status })
      return undefined
    } catch (err) {
      lastAttemptFailed = true
      const error =
        err instanceof AppError
          ? err
          : new AppError('unavailable', 'JWKS request failed', { cause: err })
      log('JWKS fetch for %s failed: %s', issuer, error.message)
      report('error', { ...(status !== undefined && { status }), error: error.message })
      return error
    } finally {
      clearTimeout(timer)
      if (controller === ctl) controller = undefined
    }
  }

  function maxAgeMs(headers: Headers): number {
    let seconds: number | undefined
    for (const directive of (headers.get('cache-control') ?? '').toLowerCase().split(',')) {
      const [name = '', value = ''] = directive.trim().split('=', 2)
      if (name === 'no-store' || name === 'no-cache') return minMaxAgeMs
      const match = /^"?(\d{1,10})"?$/.exec(value)
      if (name === 'max-age' && match && seconds === undefined) seconds = Number(match[1])
    }
    if (seconds === undefined) return defaultMaxAgeMs
    const age = Number(headers.get('age'))
    const remaining = seconds - (Number.isInteger(age) && age > 0 ? age : 0)
    return Math.min(maxMaxAgeMs, Math.max(minMaxAgeMs, remaining * 1000))
  }

  /** Usable keys now, revalidating in the background once expired, or fetching if none are usable. */
  async function current(): Promise<Held> {
    const t = now()
    const keys = usable(t)
    if (keys) {
      if (t >= keys.expiresAt && mayRetry(t)) void refresh()
      return keys
    }
    if (closed) throw new AppError('unavailable', 'key set closed')
    if (!inflight && !mayRetry(t))
      throw new AppError('unavailable', 'key set unreachable (cooling down)')
    const error = await refresh()
    const fetched = usable(now())
    if (!fetched) throw error ?? new AppError('unavailable', 'key set unreachable')
    return fetched
  }

  async function lookup(kid: string): Promise<HeldKey> {
    const found = (await current()).keys.get(kid)
    if (found) return found
    if (inflight) await inflight
    else if (cooledDown(now())) await refresh()
    const refetched = usable(now())?.keys.get(kid)
    if (refetched) return refetched
    if (lastAttemptFailed) throw new AppError('unavailable', 'kid unknown and key set unreachable')
    throw new AppError('token_invalid', 'kid not in the key set')
  }

  const getKey: JWTVerifyGetKey = async (header) => {
    const { kid, alg } = header as { kid?: unknown; alg?: unknown }
    if (typeof kid !== 'string' || kid.length === 0) {
      throw new AppError('token_malformed', 'header kid missing or not a string')
    }
    if (typeof alg !== 'string') throw new AppError('token_malformed', 'header alg missing')
    const entry = await lookup(kid)
    if (entry.alg !== alg) throw new AppError('token_invalid', 'header alg does not match the key')
    return entry.key
  }

  return {
    getKey,
    async load() {
      const error = await refresh()
      if (error) throw error
    },
    isReady() {
      const t = now()
      // Readiness probes may be all an unready node sees: a load balancer sends it no handshakes.
      if (held && !closed && t >= held.expiresAt && mayRetry(t)) void refresh()
      return usable(t) !== undefined
    },
    algorithms: () => [...new Set([...(usable(now())?.keys.values() ?? [])].map((k) => k.alg))],
    kids: () => [...(usable(now())?.keys.keys() ?? [])],
    close() {
      closed = true
      held = undefined
      controller?.abort(new AppError('unavailable', 'key set closed'))
    },
  }
}

async function readBody(res: Response): Promise<string> {
  if (Number(res.headers.get('content-length')) > JWKS_MAX_BODY_CHARS) {
    throw new AppError('unavailable', 'JWKS response too large')
  }
  const text = await res.text()
  if (text.length > JWKS_MAX_BODY_CHARS)
    throw new AppError('unavailable', 'JWKS response too large')
  return text
}

/** Settle with `promise`, or reject with the signal's reason once it aborts (even if `promise` ignores the signal). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function parseUrl(value: string | URL): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError('jwksUrl must be an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError('jwksUrl must be http(s)')
  return url.href
}

function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number >= 0`)
  }
  return value
}
