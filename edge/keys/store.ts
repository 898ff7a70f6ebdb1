import { DurableObject } from 'cloudflare:workers'
import type { JWK } from 'jose'
import type { SigningAlgorithm } from '../../shared/constants.ts'
import { readConfig } from '../config.ts'
import { ACTIVE_KEY_CACHE_SECONDS } from '../constants.ts'
import { generateSigningKey, importKek } from './key-material.ts'
import {
  expiredKeys,
  planRotation,
  publishedKeys,
  type KeyRecord,
  type KeyState,
  type LifecycleConfig,
  type RotationMode,
} from './lifecycle.ts'

/** What an isolate needs to sign: the encrypted private key, and how long it may cache it. */
export interface ActiveKey {
  kid: string
  alg: SigningAlgorithm
  privateEnc: string
  /** Unix seconds after which the isolate must ask again. */
  cacheUntil: number
}

/** A key as the admin API lists it: public parts and timestamps only. */
export interface KeySummary {
  kid: string
  alg: SigningAlgorithm
  state: KeyState
  createdAt: number
  activatedAt?: number
  retiredAt?: number
}

/** The outcome of a rotation request. */
export type RotationResult =
  | { kind: 'rotated'; active: string; next: string; retired: string[]; dropped: string | null }
  | { kind: 'unchanged'; active: string; next: string; retired: string[] }
  | { kind: 'conflict'; reason: string }

type Row = {
  kid: string
  alg: string
  state: string
  public_jwk: string
  private_enc: string
  created_at: number
  activated_at: number | null
  retired_at: number | null
  remove_at: number | null
}

/**
 * The `KEYS` Durable Object: the one place signing keys are created, promoted,
 * retired and removed (docs/protocol.md §4). A single instance (`idFromName('keys')`)
 * makes "exactly one key is active" a local fact. Every method takes `now`
 * from the caller, so the lifecycle runs on whatever clock a test drives.
 */
export class KeyStore extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS keys (
      kid TEXT PRIMARY KEY, alg TEXT NOT NULL, state TEXT NOT NULL,
      public_jwk TEXT NOT NULL, private_enc TEXT NOT NULL,
      created_at INTEGER NOT NULL, activated_at INTEGER, retired_at INTEGER, remove_at INTEGER)`)
  }

  /** The active key for signing, creating the first keys of a fresh deployment. */
  async activeKey(now: number): Promise<ActiveKey> {
    const keys = await this.ensureKeys(now)
    const active = keys.find((k) => k.state === 'active')!
    return {
      kid: active.kid,
      alg: active.alg,
      privateEnc: active.privateEnc,
      cacheUntil: now + ACTIVE_KEY_CACHE_SECONDS,
    }
  }

  /** The public JWKs to publish at `now`: active, next, then retired keys still in use. */
  async jwks(now: number): Promise<JWK[]> {
    return publishedKeys(await this.ensureKeys(now), now).map((k) => k.publicJwk)
  }

  /** The published keys with their lifecycle timestamps. */
  async list(now: number): Promise<KeySummary[]> {
    return publishedKeys(await this.ensureKeys(now), now).map((k) => ({
      kid: k.kid,
      alg: k.alg,
      state: k.state,
      createdAt: k.createdAt,
      ...(k.activatedAt !== null && { activatedAt: k.activatedAt }),
      ...(k.retiredAt !== null && { retiredAt: k.retiredAt }),
    }))
  }

  /**
   * Rotate by `mode` (see `planRotation`), then delete keys whose tokens have
   * all expired and make sure a next key is published.
   */
  async rotate(now: number, mode: RotationMode): Promise<RotationResult> {
    await this.ensureKeys(now)
    return this.ctx.blockConcurrencyWhile(async () => {
      const cfg = this.lifecycleConfig()
      const plan = planRotation(this.read(), now, cfg, mode)
      if (plan.kind === 'conflict') return { kind: 'conflict', reason: plan.reason }
      for (const kid of expiredKeys(this.read(), now))
        this.sql('DELETE FROM keys WHERE kid = ?', kid)
      let dropped: string | null = null
      if (plan.kind === 'rotate') {
        if (plan.drop) {
          this.sql('DELETE FROM keys WHERE kid = ?', plan.drop)
          dropped = plan.drop
        }
        if (plan.retire) {
          this.sql(
            `UPDATE keys SET state = 'retired', retired_at = ?, remove_at = ? WHERE kid = ?`,
            now,
            plan.removeAt,
            plan.retire,
          )
        }
        if (plan.promote) {
          this.sql(
            `UPDATE keys SET state = 'active', activated_at = ? WHERE kid = ?`,
            now,
            plan.promote,
          )
        } else {
          await this.insert(now, 'active')
        }
      }
      if (!this.read().some((k) => k.state === 'next')) await this.insert(now, 'next')
      const keys = publishedKeys(this.read(), now)
      const summary = {
        active: keys.find((k) => k.state === 'active')!.kid,
        next: keys.find((k) => k.state === 'next')!.kid,
        retired: keys.filter((k) => k.state === 'retired').map((k) => k.kid),
      }
      return plan.kind === 'rotate'
        ? { kind: 'rotated', ...summary, dropped }
        : { kind: 'unchanged', ...summary }
    })
  }

  private async ensureKeys(now: number): Promise<KeyRecord[]> {
    const keys = this.read()
    if (keys.some((k) => k.state === 'active') && keys.some((k) => k.state === 'next')) return keys
    return this.ctx.blockConcurrencyWhile(async () => {
      // The first key of a fresh deployment signs at once (invariant 2's exception).
      if (!this.read().some((k) => k.state === 'active')) await this.insert(now, 'active')
      if (!this.read().some((k) => k.state === 'next')) await this.insert(now, 'next')
      return this.read()
    })
  }

  private async insert(now: number, state: 'active' | 'next'): Promise<void> {
    const kek = await importKek(this.env.KEY_ENCRYPTION_KEY)
    const key = await generateSigningKey(readConfig(this.env).signingAlg, kek)
    this.sql(
      `INSERT INTO keys (kid, alg, state, public_jwk, private_enc, created_at, activated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      key.kid,
      key.alg,
      state,
      JSON.stringify(key.publicJwk),
      key.privateEnc,
      now,
      state === 'active' ? now : null,
    )
  }

  private read(): KeyRecord[] {
    return this.ctx.storage.sql
      .exec<Row>('SELECT * FROM keys')
      .toArray()
      .map((r) => ({
        kid: r.kid,
        alg: r.alg as SigningAlgorithm,
        state: r.state as KeyState,
        publicJwk: JSON.parse(r.public_jwk) as JWK,
        privateEnc: r.private_enc,
        createdAt: r.created_at,
        activatedAt: r.activated_at,
        retiredAt: r.retired_at,
        removeAt: r.remove_at,
      }))
  }

  private sql(query: string, ...bindings: unknown[]): void {
    this.ctx.storage.sql.exec(query, ...bindings)
  }

  private lifecycleConfig(): LifecycleConfig {
    const c = readConfig(this.env)
    return {
      jwksMaxAgeSeconds: c.jwksMaxAgeSeconds,
      rotationPeriodSeconds: c.rotationPeriodSeconds,
      accessTokenTtlSeconds: c.accessTokenTtlSeconds,
    }
  }
}

/**
 * The single `KEYS` instance.
 *
 * @param env - the worker's bindings
 */
export function keyStore(env: Env): DurableObjectStub<KeyStore> {
  return env.KEYS.get(env.KEYS.idFromName('keys'))
}
