import { base64url } from 'jose'
import { CLOCK_TOLERANCE_SECONDS } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import { REFRESH_TOKEN_BYTES } from '../constants.ts'
import { revocationStatement } from '../revocations/log.ts'
import type { UserRow } from './users.ts'

/** Why a session ended; recorded on the row. */
export type RevokeReason = 'logout' | 'reuse' | 'user_disabled'

/** A live session with its user, as refresh and login need them. */
export interface SessionGrant {
  sid: string
  expiresAt: number
  refreshToken: string
  user: UserRow
}

/**
 * Seconds after `now` until which tokens issued up to `now` can still verify:
 * their lifetime, the verifiers' clock tolerance, and a margin for a token
 * minted by a request that was already past its checks when the revocation
 * landed.
 */
export function revocationUntil(now: number, accessTokenTtlSeconds: number): number {
  return now + accessTokenTtlSeconds + CLOCK_TOLERANCE_SECONDS + 30
}

/**
 * Start a session for `user` and issue its first refresh token.
 *
 * @param db - the D1 binding
 * @param user - the authenticated user
 * @param now - Unix seconds
 * @param sessionTtlSeconds - absolute lifetime; rotation never extends it
 */
export async function createSession(
  db: D1Database,
  user: UserRow,
  now: number,
  sessionTtlSeconds: number,
): Promise<SessionGrant> {
  const sid = crypto.randomUUID()
  const expiresAt = now + sessionTtlSeconds
  const refreshToken = newRefreshToken()
  await db.batch([
    db.prepare('INSERT INTO sessions (sid, sub, created_at, expires_at) VALUES (?, ?, ?, ?)').bind(sid, user.sub, now, expiresAt),
    db
      .prepare('INSERT INTO refresh_tokens (token_hash, sid, created_at) VALUES (?, ?, ?)')
      .bind(await hashRefreshToken(refreshToken), sid, now),
  ])
  return { sid, expiresAt, refreshToken, user }
}

/**
 * Spend a refresh token and issue its successor.
 *
 * The spend is one conditional UPDATE that also requires a live session and
 * an enabled user, so of two requests racing with one token exactly one wins.
 * A token that was already spent is reuse: the whole session is revoked.
 *
 * @throws AppError `invalid_grant` for unknown, spent, expired or revoked tokens
 */
export async function rotateRefreshToken(
  db: D1Database,
  token: string,
  now: number,
  accessTokenTtlSeconds: number,
): Promise<SessionGrant> {
  const hash = await hashRefreshToken(token)
  const spent = await db
    .prepare(
      `UPDATE refresh_tokens SET spent_at = ?1
       WHERE token_hash = ?2 AND spent_at IS NULL AND sid IN (
         SELECT s.sid FROM sessions s JOIN users u ON u.sub = s.sub
         WHERE s.revoked_at IS NULL AND s.expires_at > ?1 AND u.disabled_at IS NULL)
       RETURNING sid`,
    )
    .bind(now, hash)
    .first<{ sid: string }>()
  if (!spent) {
    const row = await db
      .prepare('SELECT sid, spent_at FROM refresh_tokens WHERE token_hash = ?')
      .bind(hash)
      .first<{ sid: string; spent_at: number | null }>()
    if (row && row.spent_at !== null) {
      await revokeSession(db, row.sid, now, 'reuse', accessTokenTtlSeconds)
      throw new AppError('invalid_grant', 'refresh token reused; session revoked')
    }
    throw new AppError('invalid_grant', row ? 'session revoked, expired or user disabled' : 'unknown refresh token')
  }
  const session = await db
    .prepare(
      `SELECT s.sid, s.expires_at, u.sub, u.username, u.password_hash, u.scope, u.rooms, u.disabled_at
       FROM sessions s JOIN users u ON u.sub = s.sub WHERE s.sid = ?`,
    )
    .bind(spent.sid)
    .first<UserRow & { sid: string; expires_at: number }>()
  if (!session) throw new AppError('invalid_grant', 'session vanished')
  const refreshToken = newRefreshToken()
  await db
    .prepare('INSERT INTO refresh_tokens (token_hash, sid, created_at) VALUES (?, ?, ?)')
    .bind(await hashRefreshToken(refreshToken), session.sid, now)
    .run()
  const { sid, expires_at: expiresAt, ...user } = session
  return { sid, expiresAt, refreshToken, user }
}

/**
 * The session a refresh token belongs to, spent or not (logout accepts both).
 *
 * @returns the `sid`, or undefined for an unknown token
 */
export async function sessionOfRefreshToken(db: D1Database, token: string): Promise<string | undefined> {
  const row = await db
    .prepare('SELECT sid FROM refresh_tokens WHERE token_hash = ?')
    .bind(await hashRefreshToken(token))
    .first<{ sid: string }>()
  return row?.sid
}

/**
 * Revoke a session and, if this call is the one that revoked it, record a
 * `session` revocation event in the same transaction.
 *
 * @returns whether the session was live before this call
 */
export async function revokeSession(
  db: D1Database,
  sid: string,
  now: number,
  why: RevokeReason,
  accessTokenTtlSeconds: number,
): Promise<boolean> {
  const [update] = await db.batch([
    db.prepare('UPDATE sessions SET revoked_at = ?, revoked_why = ? WHERE sid = ? AND revoked_at IS NULL').bind(now, why, sid),
    db
      .prepare(`INSERT INTO revocations (kind, id, at, until) SELECT 'session', ?, ?, ? WHERE changes() = 1`)
      .bind(sid, now, revocationUntil(now, accessTokenTtlSeconds)),
  ])
  return (update?.meta.changes ?? 0) === 1
}

/**
 * Disable a user: mark the row, revoke every session, and record a `user`
 * revocation event, all in one transaction.
 */
export async function disableUser(db: D1Database, sub: string, now: number, accessTokenTtlSeconds: number): Promise<void> {
  await db.batch([
    db.prepare('UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE sub = ?').bind(now, sub),
    db
      .prepare(`UPDATE sessions SET revoked_at = ?, revoked_why = 'user_disabled' WHERE sub = ? AND revoked_at IS NULL`)
      .bind(now, sub),
    revocationStatement(db, { kind: 'user', id: sub, at: now, until: revocationUntil(now, accessTokenTtlSeconds) }),
  ])
}

/** A new opaque refresh token: 256 random bits, base64url. */
export function newRefreshToken(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(REFRESH_TOKEN_BYTES)))
}

/** The stored form of a refresh token. A fast hash suffices: the input has 256 bits of entropy. */
export async function hashRefreshToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))
  return base64url.encode(new Uint8Array(digest))
}
