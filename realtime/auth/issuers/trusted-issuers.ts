import type { AccessClaims } from '../../../shared/claims.ts'
import { AppError } from '../../../shared/errors.ts'
import { createKeySet, type KeySet, type KeySetOptions } from '../../../shared/jwks/key-set.ts'
import { silentLogger, type Logger } from '../../log.ts'
import { decodeSegment, parseCompactJws, parseJsonObject } from '../compact-jws.ts'
import { importNativeKey } from '../native-signature.ts'
import { verifySignedJwsNative } from '../verify-access-token-native.ts'
import { Backoff } from '../../../shared/client/backoff.ts'
import { ISSUER_LOAD_RETRY_MAX_MS, ISSUER_LOAD_RETRY_MS } from '../../constants.ts'
import { discoverJwksUri } from './discovery.ts'
import { checkForeignClaims } from './foreign-claims.ts'
import type { TrustedIssuer } from './schema.ts'

/** Options of {@link TrustedIssuers}. */
export interface TrustedIssuersOptions {
  /** The issuers besides the edge, as configured. */
  issuers: readonly TrustedIssuer[]
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /** ms clock. @default Date.now */
  now?: () => number
  /** JWKS client tuning, the same for every issuer as for the edge. */
  jwks?: Pick<KeySetOptions, 'cooldownMs' | 'maxStaleMs' | 'timeoutMs'>
  /**
   * Waits between load attempts while discovery or the JWKS fail: from
   * `minMs` (the first lies in [minMs, 2·minMs)), doubling, jittered, up to
   * `maxMs`. @default { minMs: 2_000, maxMs: 300_000 }
   */
  retry?: { minMs: number; maxMs: number }
  /** Random source of the retry jitter. @default Math.random */
  random?: () => number
  /** @default silent */
  logger?: Logger
  /** Called after each discovery or JWKS fetch, for metrics. */
  onFetch?: (issuer: string, kind: 'discovery' | 'jwks', outcome: string) => void
}

/** One issuer's state. */
interface Entry {
  config: TrustedIssuer
  /** Built once the JWKS URL is known (at once for `jwksUri`, after discovery otherwise). */
  keySet: KeySet | undefined
  loaded: boolean
  retry: ReturnType<typeof setTimeout> | undefined
  backoff: Backoff
  /** Load attempts failed in a row, and when the next one is (ms clock). */
  failures: number
  nextAttemptAt: number
}

/**
 * The issuers realtime trusts besides the edge (docs/protocol.md §12), each
 * with a key set of its own (single-flight, cooldown, stale-if-error, the
 * `alg` allow-list it is configured with). A token's `iss`, read before
 * verification only as a lookup key, selects exactly one of them; a key of
 * one issuer never verifies a token naming another.
 */
export class TrustedIssuers {
  private readonly entries = new Map<string, Entry>()
  private readonly options: TrustedIssuersOptions
  private closed = false

  constructor(options: TrustedIssuersOptions) {
    this.options = options
    const minMs = options.retry?.minMs ?? ISSUER_LOAD_RETRY_MS
    const maxMs = options.retry?.maxMs ?? ISSUER_LOAD_RETRY_MAX_MS
    for (const config of options.issuers) {
      const entry: Entry = {
        ...{ config, keySet: undefined, loaded: false, retry: undefined },
        // Equal jitter from a ceiling of 2·minMs: never sooner than minMs.
        backoff: new Backoff({
          baseMs: 2 * minMs,
          maxMs,
          jitter: 'equal',
          ...(options.random && { random: options.random }),
        }),
        failures: 0,
        nextAttemptAt: 0,
      }
      if (config.jwksUri !== undefined) entry.keySet = this.keySetFor(config, config.jwksUri)
      this.entries.set(config.issuer, entry)
    }
  }

  /** How many issuers are trusted besides the edge. */
  get size(): number {
    return this.entries.size
  }

  /** Whether `iss` is one of these issuers. */
  has(iss: string): boolean {
    return this.entries.has(iss)
  }

  /** Load every issuer's discovery and keys in the background, retrying each until it succeeds. */
  start(): void {
    for (const entry of this.entries.values()) void this.load(entry)
  }

  /**
   * Each issuer whose keys are not usable now, as a readiness reason; while
   * its loading fails, how many attempts failed and when the next one is.
   */
  notReadyReasons(): string[] {
    const reasons: string[] = []
    const now = (this.options.now ?? Date.now)()
    for (const [iss, entry] of this.entries) {
      const retrying =
        entry.failures > 0 && !entry.loaded
          ? ` (${entry.failures} attempts failed; next in ${Math.max(0, Math.ceil((entry.nextAttemptAt - now) / 1000))} s)`
          : ''
      if (!entry.keySet) reasons.push(`issuer ${iss}: discovery not loaded${retrying}`)
      else if (!entry.loaded || !entry.keySet.isReady())
        reasons.push(`issuer ${iss}: keys not loaded${retrying}`)
    }
    return reasons
  }

  /**
   * Verify a token that names `iss`, one of these issuers, against that
   * issuer's key set alone, and map its claims (docs/protocol.md §12).
   *
   * @throws AppError `token_malformed` | `token_invalid` | `token_expired` | `unavailable`
   *   (the issuer's keys are not loaded and the kid is not held)
   */
  async verify(
    token: string,
    iss: string,
    check: {
      clockToleranceSeconds: number
      nowMs: number
      onSignatureCheck?: (alg: string) => void
    },
  ): Promise<{ claims: AccessClaims; kid: string }> {
    const entry = this.entries.get(iss)
    if (!entry) throw new AppError('token_invalid', '"iss" claim check failed')
    if (!entry.keySet) throw new AppError('unavailable', 'issuer discovery not loaded')
    const { header, payload, kid } = await verifySignedJwsNative(token, entry.keySet, check)
    return { claims: checkForeignClaims(header, payload, entry.config, check), kid }
  }

  /** Stop retrying and close every key set. */
  close(): void {
    this.closed = true
    for (const entry of this.entries.values()) {
      clearTimeout(entry.retry)
      entry.keySet?.close()
    }
  }

  private async load(entry: Entry): Promise<void> {
    const { config } = entry
    const logger = this.options.logger ?? silentLogger
    try {
      if (!entry.keySet) {
        const jwksUri = await discoverJwksUri(config.discovery!, {
          issuer: config.issuer,
          ...(this.options.fetch && { fetch: this.options.fetch }),
        })
        this.options.onFetch?.(config.issuer, 'discovery', 'ok')
        if (this.closed) return
        entry.keySet = this.keySetFor(config, jwksUri)
      }
      await entry.keySet.load()
      entry.loaded = true
      entry.failures = 0
      entry.backoff.reset()
      logger('info', 'issuer keys loaded', { issuer: config.issuer, kids: entry.keySet.kids() })
    } catch (err) {
      if (!entry.keySet) this.options.onFetch?.(config.issuer, 'discovery', 'error')
      if (this.closed) return
      // Backing off: an issuer down for hours costs a few attempts an hour, not one every 2 s.
      const delayMs = entry.backoff.next()
      entry.failures++
      entry.nextAttemptAt = (this.options.now ?? Date.now)() + delayMs
      logger('warn', 'issuer not loaded; retrying', {
        issuer: config.issuer,
        error: (err as Error).message,
        attempts: entry.failures,
        retryInMs: delayMs,
      })
      entry.retry = setTimeout(() => void this.load(entry), delayMs)
      entry.retry.unref()
    }
  }

  private keySetFor(config: TrustedIssuer, jwksUrl: string): KeySet {
    return createKeySet({
      jwksUrl,
      issuer: config.issuer,
      algorithms: config.algorithms,
      importNative: importNativeKey,
      ...(this.options.fetch && { fetch: this.options.fetch }),
      ...(this.options.now && { now: this.options.now }),
      ...this.options.jwks,
      onFetch: (outcome) => this.options.onFetch?.(config.issuer, 'jwks', outcome),
    })
  }
}

/**
 * The `iss` of a token before verification, only to choose whose keys check
 * it: the token must be a well-formed compact JWS whose payload is a JSON
 * object; `iss` is returned only when it is a string.
 *
 * @param token - the compact JWS
 * @throws AppError `token_malformed` (as the verification itself would)
 * @example
 * ```ts
 * const iss = peekIssuer(token) // never trusted for anything but the lookup
 * ```
 */
export function peekIssuer(token: string): string | undefined {
  const { payloadSegment } = parseCompactJws(token)
  const payload = parseJsonObject(decodeSegment(payloadSegment))
  if (!payload) throw new AppError('token_malformed', 'not a valid JWS/JWT')
  return typeof payload.iss === 'string' ? payload.iss : undefined
}
