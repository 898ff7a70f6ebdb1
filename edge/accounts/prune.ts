import {
  MAIL_WINDOW_SECONDS,
  OUTBOX_MAX_ROWS,
  OUTBOX_RETENTION_SECONDS,
  PRUNE_BATCH_ROWS,
} from '../constants.ts'

/** Rows deleted by one {@link pruneAccounts} run, per table. */
export interface AccountsPruneResult {
  mailTokens: number
  invites: number
  mailLog: number
  outbox: number
  passkeyChallenges: number
  federatedFlows: number
}

/**
 * Delete what the accounts tables no longer need, at most `batch` rows per
 * table per run: mail tokens that are used or expired (either way they can
 * only be refused, and unknown is refused the same), invites used or
 * expired, mail-log rows older than the hourly window, and outbox mail older
 * than {@link OUTBOX_RETENTION_SECONDS} or beyond the newest {@link OUTBOX_MAX_ROWS},
 * expired passkey challenges (a spent one is already gone), and the marks of
 * federated flows past their cookie's expiry (the cookie alone is refused then).
 *
 * @param db - the D1 binding
 * @param now - Unix seconds
 * @param batch - most rows deleted per table. @default PRUNE_BATCH_ROWS
 */
export async function pruneAccounts(
  db: D1Database,
  now: number,
  batch = PRUNE_BATCH_ROWS,
): Promise<AccountsPruneResult> {
  const [mailTokens, invites, mailLog, outbox, passkeyChallenges, federatedFlows] = await db.batch([
    db
      .prepare(
        `DELETE FROM mail_tokens WHERE token_hash IN (SELECT token_hash FROM mail_tokens
         WHERE used_at IS NOT NULL OR expires_at <= ?1 LIMIT ?2)`,
      )
      .bind(now, batch),
    db
      .prepare(
        `DELETE FROM invites WHERE invite_hash IN (SELECT invite_hash FROM invites
         WHERE used_at IS NOT NULL OR expires_at <= ?1 LIMIT ?2)`,
      )
      .bind(now, batch),
    db
      .prepare('DELETE FROM mail_log WHERE id IN (SELECT id FROM mail_log WHERE at <= ?1 LIMIT ?2)')
      .bind(now - MAIL_WINDOW_SECONDS, batch),
    db
      .prepare(
        `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_at <= ?1
           OR id NOT IN (SELECT id FROM outbox ORDER BY created_at DESC, rowid DESC LIMIT ?3)
         LIMIT ?2)`,
      )
      .bind(now - OUTBOX_RETENTION_SECONDS, batch, OUTBOX_MAX_ROWS),
    db
      .prepare(
        `DELETE FROM passkey_challenges WHERE id IN (SELECT id FROM passkey_challenges
         WHERE expires_at <= ?1 LIMIT ?2)`,
      )
      .bind(now, batch),
    db
      .prepare(
        `DELETE FROM federated_flows_used WHERE flow_id IN (SELECT flow_id FROM federated_flows_used
         WHERE expires_at <= ?1 LIMIT ?2)`,
      )
      .bind(now, batch),
  ])
  return {
    mailTokens: mailTokens?.meta.changes ?? 0,
    invites: invites?.meta.changes ?? 0,
    mailLog: mailLog?.meta.changes ?? 0,
    outbox: outbox?.meta.changes ?? 0,
    passkeyChallenges: passkeyChallenges?.meta.changes ?? 0,
    federatedFlows: federatedFlows?.meta.changes ?? 0,
  }
}
