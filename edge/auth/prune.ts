import { MAX_ACCESS_TOKEN_TTL_SECONDS } from '../../shared/constants.ts'
import { PRUNE_BATCH_ROWS } from '../constants.ts'
import { revocationUntil } from './sessions.ts'

/** Rows deleted by one {@link pruneSessions} run. */
export interface PruneResult {
  refreshTokens: number
  sessions: number
}

/** When a session stopped mattering; the same expression as the `sessions_by_end` index. */
const SESSION_END = 'min(s.expires_at, coalesce(s.revoked_at, s.expires_at))'

/**
 * Delete ended sessions and their refresh tokens, at most `batch` rows of
 * each per call. A session's rows stay while any of them can matter: as long
 * as the session is live, every spent token is kept, because presenting one
 * is reuse and revokes the session (docs/protocol.md §3). Once the session is
 * revoked or past its absolute expiry, its tokens can no longer be spent and
 * its revocation event still covers its access tokens; the rows go once that
 * event's `until` (computed with the longest allowed access-token lifetime,
 * so a configuration change cannot shorten it) has passed.
 *
 * @param db - the D1 binding
 * @param now - Unix seconds
 * @param batch - most rows deleted per table. @default PRUNE_BATCH_ROWS
 */
export async function pruneSessions(
  db: D1Database,
  now: number,
  batch = PRUNE_BATCH_ROWS,
): Promise<PruneResult> {
  // revocationUntil(end, ttl) < now  ⇔  end < now - revocationUntil(0, ttl)
  const cutoff = now - revocationUntil(0, MAX_ACCESS_TOKEN_TTL_SECONDS)
  const tokens = await db
    .prepare(
      `DELETE FROM refresh_tokens WHERE token_hash IN (
         SELECT t.token_hash FROM sessions s JOIN refresh_tokens t ON t.sid = s.sid
         WHERE ${SESSION_END} < ?1 LIMIT ?2)`,
    )
    .bind(cutoff, batch)
    .run()
  // A session goes only once its last token has (the foreign key requires it anyway).
  const sessions = await db
    .prepare(
      `DELETE FROM sessions WHERE sid IN (
         SELECT s.sid FROM sessions s WHERE ${SESSION_END} < ?1
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.sid = s.sid) LIMIT ?2)`,
    )
    .bind(cutoff, batch)
    .run()
  return { refreshTokens: tokens.meta.changes, sessions: sessions.meta.changes }
}
