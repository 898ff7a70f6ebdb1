import { DurableObject } from 'cloudflare:workers'
import { DPOP_REPLAY_PRUNE_INTERVAL_MS } from '../constants.ts'
import { log } from '../http/log.ts'

/** What {@link DpopJtiStore.claim} found: a new `jti`, a replay, or a shard full of live rows. */
export type JtiClaim = 'fresh' | 'replayed' | 'full'

/**
 * One shard of the edge's DPoP `jti` replay cache (docs/dpop.md): a SQLite
 * table of `jti`s and when they may be forgotten. A Durable Object is the one
 * place all isolates agree on, so a proof replayed to another isolate or
 * region is still refused. Each claim first drops the expired rows (the
 * expiry index makes it a short range delete), then checks and inserts, all
 * synchronous, so two claims of one `jti` cannot both see it fresh. An alarm
 * prunes a shard that has gone quiet. The shard holds at most `maxRows` live
 * rows: full, it refuses rather than forget one early.
 */
export class DpopJtiStore extends DurableObject<Env> {
  private rows: number
  private alarmSet = false

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS jtis (
      jti        TEXT PRIMARY KEY,
      expires_at INTEGER NOT NULL
    )`)
    ctx.storage.sql.exec('CREATE INDEX IF NOT EXISTS jtis_by_expiry ON jtis(expires_at)')
    this.rows = ctx.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM jtis').one().n
  }

  /**
   * Record `jti` until `nowMs + ttlSeconds`.
   *
   * @param jti - the proof's `jti` (at most 256 characters; checked by the proof verifier)
   * @param nowMs - the request's clock, ms
   * @param ttlSeconds - how long it is remembered
   * @param maxRows - the shard's bound
   * @returns `fresh` the first time, `replayed` after, `full` when the bound is reached
   */
  async claim(jti: string, nowMs: number, ttlSeconds: number, maxRows: number): Promise<JtiClaim> {
    this.prune(nowMs)
    const seen = this.ctx.storage.sql.exec('SELECT 1 FROM jtis WHERE jti = ?', jti).toArray()
    if (seen.length > 0) return 'replayed'
    if (this.rows >= maxRows) {
      log('warn', 'dpop replay shard full', { rows: this.rows, maxRows })
      return 'full'
    }
    this.ctx.storage.sql.exec(
      'INSERT INTO jtis (jti, expires_at) VALUES (?, ?)',
      jti,
      nowMs + ttlSeconds * 1000,
    )
    this.rows++
    if (!this.alarmSet) {
      this.alarmSet = true
      await this.ctx.storage.setAlarm(Date.now() + DPOP_REPLAY_PRUNE_INTERVAL_MS)
    }
    return 'fresh'
  }

  /** Live rows now (for tests and operators). */
  async size(nowMs: number): Promise<number> {
    this.prune(nowMs)
    return this.rows
  }

  override async alarm(): Promise<void> {
    this.alarmSet = false
    this.prune(Date.now())
    if (this.rows > 0) {
      this.alarmSet = true
      await this.ctx.storage.setAlarm(Date.now() + DPOP_REPLAY_PRUNE_INTERVAL_MS)
    }
  }

  private prune(nowMs: number): void {
    const cursor = this.ctx.storage.sql.exec('DELETE FROM jtis WHERE expires_at <= ?', nowMs)
    cursor.toArray()
    this.rows = Math.max(0, this.rows - cursor.rowsWritten)
  }
}
