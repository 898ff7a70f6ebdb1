import type { JWK } from 'jose'
import { CLOCK_TOLERANCE_SECONDS, type SigningAlgorithm } from '../../shared/constants.ts'
import { ACTIVE_KEY_CACHE_SECONDS } from '../constants.ts'

/** Where a key is in its life (docs/protocol.md §4). Removed keys are deleted, not kept with a state. */
export type KeyState = 'next' | 'active' | 'retired'

/** A signing key as the `KEYS` Durable Object stores it. Times are Unix seconds. */
export interface KeyRecord {
  kid: string
  alg: SigningAlgorithm
  state: KeyState
  publicJwk: JWK
  privateEnc: string
  /** When it was first published (keys are published the moment they are created). */
  createdAt: number
  activatedAt: number | null
  retiredAt: number | null
  /** When a retired key leaves the JWKS: its last token has expired. */
  removeAt: number | null
}

/** The timing the lifecycle depends on. */
export interface LifecycleConfig {
  jwksMaxAgeSeconds: number
  rotationPeriodSeconds: number
  accessTokenTtlSeconds: number
}

/** How a rotation was asked for. */
export type RotationMode = 'scheduled' | 'manual' | 'emergency'

/** What a rotation should do, decided from the keys and the clock alone. */
export type RotationPlan =
  | { kind: 'none' }
  | { kind: 'conflict'; reason: string }
  | {
      kind: 'rotate'
      promote: string | null
      retire: string | null
      drop: string | null
      removeAt: number
    }

/**
 * The keys in the JWKS at `now`: everything but retired keys past `removeAt`.
 * Removal is decided here, at read time, so it is exact however late the
 * cron runs.
 */
export function publishedKeys(keys: readonly KeyRecord[], now: number): KeyRecord[] {
  const order: Record<KeyState, number> = { active: 0, next: 1, retired: 2 }
  return keys
    .filter((k) => k.state !== 'retired' || (k.removeAt ?? 0) > now)
    .sort((a, b) => order[a.state] - order[b.state] || b.createdAt - a.createdAt)
}

/**
 * When a key retired at `now` may leave the JWKS (invariant 3): isolates may
 * keep signing with it for {@link ACTIVE_KEY_CACHE_SECONDS}, then its last
 * token lives for the token lifetime, plus verifiers' clock tolerance.
 */
export function removalTime(now: number, cfg: LifecycleConfig): number {
  return now + ACTIVE_KEY_CACHE_SECONDS + cfg.accessTokenTtlSeconds + CLOCK_TOLERANCE_SECONDS
}

/**
 * Whether the next key has been published long enough to sign (invariant 2):
 * every verifier honouring the JWKS max-age has fetched it by now.
 */
export function nextIsReady(next: KeyRecord, now: number, cfg: LifecycleConfig): boolean {
  return now >= next.createdAt + cfg.jwksMaxAgeSeconds
}

/**
 * Decide a rotation. `scheduled` rotates once the active key has served
 * `rotationPeriodSeconds` and the next key is ready; `manual` rotates now if
 * the next key is ready, else conflicts; `emergency` drops the active key from
 * the JWKS at once and promotes the next key without waiting (invariant 2's
 * exception: a compromised key is worse than a verifier's cache miss).
 */
export function planRotation(
  keys: readonly KeyRecord[],
  now: number,
  cfg: LifecycleConfig,
  mode: RotationMode,
): RotationPlan {
  const active = keys.find((k) => k.state === 'active')
  const next = keys.find((k) => k.state === 'next')
  const removeAt = removalTime(now, cfg)
  if (mode === 'emergency') {
    return {
      kind: 'rotate',
      promote: next?.kid ?? null,
      retire: null,
      drop: active?.kid ?? null,
      removeAt,
    }
  }
  if (!active || !next) return { kind: 'none' }
  if (
    mode === 'scheduled' &&
    now < (active.activatedAt ?? active.createdAt) + cfg.rotationPeriodSeconds
  ) {
    return { kind: 'none' }
  }
  if (!nextIsReady(next, now, cfg)) {
    return mode === 'manual'
      ? { kind: 'conflict', reason: `next key not yet published for ${cfg.jwksMaxAgeSeconds}s` }
      : { kind: 'none' }
  }
  return { kind: 'rotate', promote: next.kid, retire: active.kid, drop: null, removeAt }
}

/** Retired keys whose tokens have all expired: to delete from storage. */
export function expiredKeys(keys: readonly KeyRecord[], now: number): string[] {
  return keys.filter((k) => k.state === 'retired' && (k.removeAt ?? 0) <= now).map((k) => k.kid)
}
