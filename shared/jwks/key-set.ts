import debug from 'debug'
import type { JWTVerifyGetKey } from 'jose'
import { MIN_JWKS_MAX_AGE_SECONDS, SIGNING_ALGORITHMS } from '../constants.ts'
import { AppError } from '../errors.ts'
import { isKeySetAlgorithm, type KeySetAlgorithm } from './algorithms.ts'
import { abortable, duration, freshnessMs, parseJwksUrl, readBody } from './http.ts'
import { parseKeySet, type HeldKey, type ParseKeySetOptions } from './parse-jwks.ts'

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

/** Outcome of one JWKS fetch, as reported to {@link KeySetOptions.onFetch}. */
export type KeySetFetchOutcome = 'ok' | 'not_modified' | 'error'

/** Options of {@link createKeySet}. */
export interface KeySetOptions {
  /** The issuer's JWKS URL, from configuration only (never from a token). http(s) only. */
  jwksUrl: string | URL
  /** The issuer this key set serves; one instance per (issuer, jwksUrl). */
  issuer: string
  /** The `alg`s this issuer may sign with; keys of any other `alg` are skipped. @default ['ES256', 'EdDSA', 'RS256'] */
  algorithms?: readonly KeySetAlgorithm[]
  /** Also import each key for a runtime's own crypto, once per key (realtime: a node:crypto KeyObject). */
  importNative?: ParseKeySetOptions['importNative']
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
  /** Floor of the server's `max-age`. @default 1_000 (the edge's smallest `JWKS_MAX_AGE`) */
  minMaxAgeMs?: number
  /** Ceiling of the server's `max-age`. @default 3_600_000 */
  maxMaxAgeMs?: number
  /** How long past expiry the last good keys keep verifying while the edge is unreachable. @default 3_600_000 */
  maxStaleMs?: number
  /** Called after every fetch, for metrics. A throw is logged and ignored. */
  onFetch?: (outcome: KeySetFetchOutcome, detail?: { status?: number; error?: string }) => void
}

/** A cached, revalidating client of one issuer's JWKS. */
export interface KeySet {
  /** The issuer these keys belong to (docs/protocol.md §12: one key set per issuer). */
  readonly issuer: string
  /** The `alg`s this issuer may use: the verifier's allow-list. Never `none` or an HMAC. */
  readonly allowedAlgorithms: readonly KeySetAlgorithm[]
  /** Key resolver for jose `jwtVerify` / `verifyAccessToken`: selects by `kid` only, and requires the header `alg` to equal the key's. */
  getKey: JWTVerifyGetKey
  /**
   * A resolver like `getKey` whose unknown-kid refetches have their own
   * cooldown, so that one caller (revocation pushes) is never starved by
   * another (handshakes with made-up kids).
   */
  resolver(options: { cooldownMs: number }): JWTVerifyGetKey
  /**
   * The usable key with this `kid`, synchronously, or undefined when it is
   * not held (then call {@link KeySet.resolve}). Starts a background
   * revalidation once the keys are past `max-age`.
   */
  peek(kid: string): HeldKey | undefined
  /**
   * The key with this `kid`, refetching once per cooldown when it is unknown.
   *
   * @throws AppError `token_invalid` (kid unknown after refetch) | `unavailable`
   */
  resolve(kid: string): Promise<HeldKey>
  /** Fetch the key set now (joins a fetch in flight); rejects with `unavailable` if it fails. */
  load(): Promise<void>
  /**
   * Fetch the key set again now, whatever the cooldowns: for a `key`
   * revocation event (docs/protocol.md §4 invariant 5). Calls made while a
   * fetch is in flight share one fetch that starts after it.
   */
  refetch(): Promise<void>
  /**
   * Whether usable keys are held (not past the stale-if-error window) and the set is not closed.
   * Like `getKey`, it starts a background revalidation of expired keys (subject to the cooldown
   * after a failure), so a node that gets no handshakes still recovers once the edge answers.
   */
  isReady(): boolean
  /** The `alg`s of the held keys. */
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

  function keyResolver(lookup: (kid: string) => Promise<HeldKey>): JWTVerifyGetKey {
    return async (header) => {
      const { kid, alg } = header as { kid?: unknown; alg?: unknown }
      if (typeof kid !== 'string' || kid.length === 0) {
        throw new AppError('token_malformed', 'header kid missing or not a string')
      }
      if (typeof alg !== 'string') throw new AppError('token_malformed', 'header alg missing')
      const entry = await lookup(kid)
      if (entry.alg !== alg)
        throw new AppError('token_invalid', 'header alg does not match the key')
      return entry.key
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
