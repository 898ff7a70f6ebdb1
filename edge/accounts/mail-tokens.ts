import { RESET_TOKEN_TTL_SECONDS, VERIFY_TOKEN_TTL_SECONDS } from '../constants.ts'
import { hashRefreshToken as hashToken, newRefreshToken as newToken } from '../auth/sessions.ts'

/** What a mail token proves (docs/protocol.md §13). */
export type MailTokenKind = 'verify' | 'reset'

/** A mail token's row, without its hash. */
export interface MailTokenRow {
  sub: string
  email_key: string | null
}

/** Lifetime of each kind, in seconds. */
function ttlOf(kind: MailTokenKind): number {
  switch (kind) {
    case 'verify':
      return VERIFY_TOKEN_TTL_SECONDS
    case 'reset':
      return RESET_TOKEN_TTL_SECONDS
    default: {
      const unhandled: never = kind
      return unhandled
    }
  }
}

/**
 * Issue a mail token: 256 random bits (the same opaque form as a refresh
 * token), stored only as its SHA-256. Any earlier token of this kind for this
 * user is deleted in the same transaction, so a new one voids the previous
 * and a user holds at most one row per kind.
 *
 * @param db - the D1 binding
 * @param sub - the user
 * @param kind - verify or reset
 * @param now - Unix seconds
 * @param emailKey - for `verify`, the address the token proves
 * @returns the token, for the mail only
 */
export async function issueMailToken(
  db: D1Database,
  sub: string,
  kind: MailTokenKind,
  now: number,
  emailKey: string | null = null,
): Promise<string> {
  const token = newToken()
  await db.batch([
    db.prepare('DELETE FROM mail_tokens WHERE sub = ? AND kind = ?').bind(sub, kind),
    db
      .prepare(
        `INSERT INTO mail_tokens (token_hash, sub, kind, email_key, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .bind(await hashToken(token), sub, kind, emailKey, now, now + ttlOf(kind)),
  ])
  return token
}

/**
 * The row of a live token (unused, unexpired) without spending it.
 *
 * @returns the row, or undefined for an unknown, used or expired token
 */
export async function peekMailToken(
  db: D1Database,
  token: string,
  kind: MailTokenKind,
  now: number,
): Promise<MailTokenRow | undefined> {
  const row = await db
    .prepare(
      `SELECT sub, email_key FROM mail_tokens
       WHERE token_hash = ? AND kind = ? AND used_at IS NULL AND expires_at > ?`,
    )
    .bind(await hashToken(token), kind, now)
    .first<MailTokenRow>()
  return row ?? undefined
}

/**
 * A statement that spends a live token, for a `db.batch` with the change it
 * authorizes; its `meta.changes` is 1 only for the request that spent it.
 */
export async function spendMailTokenStatement(
  db: D1Database,
  token: string,
  kind: MailTokenKind,
  now: number,
): Promise<D1PreparedStatement> {
  return db
    .prepare(
      `UPDATE mail_tokens SET used_at = ?3
       WHERE token_hash = ?1 AND kind = ?2 AND used_at IS NULL AND expires_at > ?3`,
    )
    .bind(await hashToken(token), kind, now)
}
