import { revocationUntil, type RevokeReason } from '../auth/sessions.ts'
import { revocationStatement } from '../revocations/log.ts'

/** Options of {@link revokeUserSessionsStatements}. */
export interface RevokeUserSessionsOptions {
  /** A session to keep (the caller's, on a password change). */
  except?: string
  /**
   * Also record a `user` event (docs/protocol.md §6). It is dated one second
   * back, so an access token minted by a login with the new password in the
   * same second is not covered; every token minted earlier in that second
   * belongs to a session whose own `session` event is recorded here.
   */
  userEvent?: boolean
  /** Access-token lifetime, for the events' `until`. */
  accessTokenTtlSeconds: number
}

/**
 * Statements that revoke a user's live sessions, each with its `session`
 * revocation event (events first: both select the same rows inside the
 * batch's transaction), for one `db.batch` with the change that caused them.
 *
 * @param db - the D1 binding
 * @param sub - the user
 * @param now - Unix seconds
 * @param why - recorded on each row
 * @param options - {@link RevokeUserSessionsOptions}
 */
export function revokeUserSessionsStatements(
  db: D1Database,
  sub: string,
  now: number,
  why: RevokeReason,
  options: RevokeUserSessionsOptions,
): D1PreparedStatement[] {
  const until = revocationUntil(now, options.accessTokenTtlSeconds)
  const except = options.except ?? ''
  const live = `FROM sessions WHERE sub = ?1 AND revoked_at IS NULL AND expires_at > ?2 AND sid != ?3`
  const statements = [
    db
      .prepare(
        `INSERT INTO revocations (kind, id, at, until) SELECT 'session', sid, ?2, ?4 ${live}`,
      )
      .bind(sub, now, except, until),
    db
      .prepare(
        `UPDATE sessions SET revoked_at = ?2, revoked_why = ?4 WHERE sid IN (SELECT sid ${live})`,
      )
      .bind(sub, now, except, why),
  ]
  if (options.userEvent)
    statements.push(revocationStatement(db, { kind: 'user', id: sub, at: now - 1, until }))
  return statements
}
