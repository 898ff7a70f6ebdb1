import type { JWTVerifyGetKey } from 'jose'
import type { KeySetAlgorithm } from './algorithms.ts'
import type { createKeySet } from './key-set.ts'
import type { HeldKey, ParseKeySetOptions } from './parse-jwks.ts'

// The key set's public shapes, apart from its fetching and caching logic.

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
