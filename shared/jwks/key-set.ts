import debug from 'debug'
import { MIN_JWKS_MAX_AGE_SECONDS, SIGNING_ALGORITHMS } from '../constants.ts'
import { AppError } from '../errors.ts'
import { isKeySetAlgorithm } from './algorithms.ts'
import { abortable, duration, freshnessMs, parseJwksUrl, readBody } from './http.ts'
import { keyResolver } from './key-resolver.ts'
import { parseKeySet, type HeldKey, type ParseKeySetOptions } from './parse-jwks.ts'
import type { KeySet, KeySetFetchOutcome, KeySetOptions } from './types.ts'

const log = debug('edgegate:jwks')

/** Default minimum time between refetches caused by unknown kids or after a failed fetch, in ms. */
const JWKS_COOLDOWN_MS = 30_000
/** Default per-fetch timeout (headers and body), in ms. */
const JWKS_TIMEOUT_MS = 5_000
/** Default freshness when the response has no usable `max-age`, in ms. */
const JWKS_DEFAULT_MAX_AGE_MS = 300_000
/** Default floor of the server's `max-age`, in ms: the edge's own minimum, so every allowed `JWKS_MAX_AGE` is honoured. */
const JWKS_MIN_MAX_AGE_MS = MIN_JWKS_MAX_AGE_SECONDS * 1000
/** Default ceiling of the server's `max-age`, in ms. */
const JWKS_MAX_MAX_AGE_MS = 3_600_000
/** Default stale-if-error window past expiry, in ms. */
const JWKS_MAX_STALE_MS = 3_600_000

export type { KeySet, KeySetFetchOutcome, KeySetOptions } from './types.ts'

interface Held {
  keys: Map<string, HeldKey>
  etag: string | undefined
  expiresAt: number
}

/**
 * Create a client of an issuer's JWKS. Unlike a bare jose
 * `createRemoteJWKSet`, it honours `Cache-Control: max-age` (down to the
 * edge's smallest `JWKS_MAX_AGE`) and `ETag`, revalidates in the background
 * while serving known keys (stale-while-revalidate), keeps the last good keys
 * for `maxStaleMs` past expiry when the edge is unreachable
 * (stale-if-error), makes at most one fetch at a time, and refetches for
 * unknown kids at most once per `cooldownMs`: a routine revalidation does not
 * start that cooldown, so a key published since is learnt at its first use.
 * Token headers such as `jku`, `x5u`, `jwk` and `x5c` are never read.
 *
 * @param options - {@link KeySetOptions}; `jwksUrl` and `issuer` are required
 * @throws TypeError on invalid options
 * @example
 * ```ts
 * const keySet = createKeySet({ jwksUrl: config.jwksUrl, issuer: config.issuer })
 * await keySet.load()
 * const { claims } = await verifyAccessToken(token, keySet.getKey, {
 *   issuer: config.issuer, audience: 'realtime', algorithms: keySet.allowedAlgorithms,
 * })
 * ```
 */
export function createKeySet(options: KeySetOptions): KeySet {
  const url = parseJwksUrl(options.jwksUrl)
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
    throw new TypeError('issuer must be a non-empty string')
  }
  const fetchImpl = options.fetch ?? globalThis.fetch
  const now = options.now ?? Date.now
  if (typeof fetchImpl !== 'function' || typeof now !== 'function')
    throw new TypeError('fetch and now must be functions')
  const allowedAlgorithms = Object.freeze([...(options.algorithms ?? SIGNING_ALGORITHMS)])
  if (allowedAlgorithms.length === 0 || !allowedAlgorithms.every(isKeySetAlgorithm)) {
    throw new TypeError('algorithms must be a non-empty list of ES256, ES384, EdDSA, RS256, PS256')
  }
  const cooldownMs = duration('cooldownMs', options.cooldownMs, JWKS_COOLDOWN_MS)
  const timeoutMs = duration('timeoutMs', options.timeoutMs, JWKS_TIMEOUT_MS)
  const bounds = {
    defaultMaxAgeMs: duration('defaultMaxAgeMs', options.defaultMaxAgeMs, JWKS_DEFAULT_MAX_AGE_MS),
    minMaxAgeMs: duration('minMaxAgeMs', options.minMaxAgeMs, JWKS_MIN_MAX_AGE_MS),
    maxMaxAgeMs: duration('maxMaxAgeMs', options.maxMaxAgeMs, JWKS_MAX_MAX_AGE_MS),
  }
  const maxStaleMs = duration('maxStaleMs', options.maxStaleMs, JWKS_MAX_STALE_MS)
  if (bounds.minMaxAgeMs > bounds.maxMaxAgeMs)
    throw new TypeError('minMaxAgeMs must not exceed maxMaxAgeMs')
  const { issuer, onFetch } = options
  const parseOptions: ParseKeySetOptions = {
    algorithms: allowedAlgorithms,
    ...(options.importNative && { importNative: options.importNative }),
  }

  let held: Held | undefined
  let inflight: Promise<AppError | undefined> | undefined
  let queued: Promise<AppError | undefined> | undefined
  let controller: AbortController | undefined
  let lastAttemptAt: number | undefined
  let lastAttemptFailed = false
  let closed = false

  const usable = (t: number) =>
    held && !closed && t < held.expiresAt + maxStaleMs ? held : undefined
  // After a failure, wait out the cooldown before trying again: the edge is down or refusing.
  const mayRetry = (t: number) =>
    !lastAttemptFailed || lastAttemptAt === undefined || t - lastAttemptAt >= cooldownMs

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

  /** A fetch that starts no earlier than now: after the one in flight, if any, shared by every caller meanwhile. */
  function refreshAfterNow(): Promise<AppError | undefined> {
    if (!inflight) return refresh()
    queued ??= inflight.then(() => {
      queued = undefined
      return refresh()
    })
    return queued
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
        held.expiresAt = now() + freshnessMs(res.headers, bounds)
        lastAttemptFailed = false
        report('not_modified', { status })
        return undefined
      }
      if (res.status !== 200) {
        // Release the connection; a failure to cancel an unread body changes nothing here.
        res.body?.cancel().catch(() => {})
        throw new AppError('unavailable', `JWKS answered HTTP ${res.status}`)
      }
      const body = await abortable(readBody(res), ctl.signal)
      const keys = await parseKeySet(body, held?.keys, parseOptions)
      if (closed) throw new AppError('unavailable', 'key set closed')
      held = {
        keys,
        etag: res.headers.get('etag') ?? undefined,
        expiresAt: now() + freshnessMs(res.headers, bounds),
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

  /**
   * Usable keys now, or undefined. Starts a background revalidation once the
   * keys held are expired, usable or not: readiness probes may be all an
   * unready node sees (a load balancer sends it no handshakes).
   */
  function fresh(t: number): Held | undefined {
    if (held && !closed && t >= held.expiresAt && mayRetry(t)) void refresh()
    return usable(t)
  }

  /** Usable keys now, fetching if none are usable. */
  async function current(): Promise<Held> {
    const keys = fresh(now())
    if (keys) return keys
    if (closed) throw new AppError('unavailable', 'key set closed')
    if (!inflight && !mayRetry(now()))
      throw new AppError('unavailable', 'key set unreachable (cooling down)')
    const error = await refresh()
    const fetched = usable(now())
    if (!fetched) throw error ?? new AppError('unavailable', 'key set unreachable')
    return fetched
  }

  /** A kid lookup whose unknown-kid refetches are limited to one per `gateMs`. */
  function lookupWithGate(gateMs: number): (kid: string) => Promise<HeldKey> {
    let gateOpenedAt: number | undefined
    return async (kid) => {
      const found = (await current()).keys.get(kid)
      if (found) return found
      // A fetch in flight (routine or another kid's) may already bring it.
      if (inflight) {
        await inflight
        const joined = usable(now())?.keys.get(kid)
        if (joined) return joined
      }
      const t = now()
      if ((gateOpenedAt === undefined || t - gateOpenedAt >= gateMs) && mayRetry(t)) {
        gateOpenedAt = t
        await refreshAfterNow()
        const refetched = usable(now())?.keys.get(kid)
        if (refetched) return refetched
      }
      if (lastAttemptFailed)
        throw new AppError('unavailable', 'kid unknown and key set unreachable')
      throw new AppError('token_invalid', 'kid not in the key set')
    }
  }

  const resolve = lookupWithGate(cooldownMs)
  return {
    issuer,
    allowedAlgorithms,
    getKey: keyResolver(resolve),
    resolver: ({ cooldownMs: gateMs }) =>
      keyResolver(lookupWithGate(duration('cooldownMs', gateMs, cooldownMs))),
    peek: (kid) => fresh(now())?.keys.get(kid),
    resolve,
    async load() {
      const error = await refresh()
      if (error) throw error
    },
    async refetch() {
      const error = await refreshAfterNow()
      if (error) throw error
    },
    isReady: () => fresh(now()) !== undefined,
    algorithms: () => [...new Set([...(usable(now())?.keys.values() ?? [])].map((k) => k.alg))],
    kids: () => [...(usable(now())?.keys.keys() ?? [])],
    close() {
      closed = true
      held = undefined
      controller?.abort(new AppError('unavailable', 'key set closed'))
    },
  }
}

export type { HeldKey } from './parse-jwks.ts'
