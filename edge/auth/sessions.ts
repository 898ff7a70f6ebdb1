import { base64url } from 'jose'
import { CLOCK_TOLERANCE_SECONDS } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import {
  REFRESH_THROTTLE_WINDOW_SECONDS,
  REFRESH_TOKEN_BYTES,
  USER_AGENT_MAX_CHARS,
} from '../constants.ts'
import { log } from '../http/log.ts'
import { revocationStatement } from '../revocations/log.ts'
import type { UserRow } from './users.ts'

/** Why a session ended; recorded on the row. */
export type RevokeReason =
  | 'logout'
  | 'reuse'
  | 'user_disabled'
  | 'session_cap'
  | 'password_reset'
  | 'password_changed'
  | 'revoked_by_user'
  | 'user_deleted'

/** How a session began (docs/protocol.md §13 `GET /auth/sessions`). */
export type SessionMethod = 'password' | 'passkey' | 'federated'

/** A live session with its user, as refresh and login need them. */
export interface SessionGrant {
  sid: string
  expiresAt: number
  refreshToken: string
  user: UserRow
  /** The DPoP key the session is bound to (docs/protocol.md §15); absent: a bearer session. */
  jkt?: string | undefined
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

/** Options of {@link createSession}. */
export interface CreateSessionOptions {
  /** Absolute lifetime; rotation never extends it. */
  sessionTtlSeconds: number
  /** Live sessions the user may hold; the least recently used beyond it are revoked. */
  maxSessions: number
  /** Access-token lifetime, for the `until` of the revocation events. */
  accessTokenTtlSeconds: number
  /** How the user authenticated. @default 'password' */
  method?: SessionMethod
  /** The client's `User-Agent`, cut to {@link USER_AGENT_MAX_CHARS}; shown in the user's session list. */
  userAgent?: string | undefined
  /**
   * Bind the session to this DPoP key thumbprint (docs/protocol.md §15): its
   * refresh tokens are spent only with a proof by the key, and its access
   * tokens carry `cnf.jkt`. @default undefined (a bearer session)
   */
  jkt?: string | undefined
}

/**
 * Start a session for `user` and issue its first refresh token. If the user
 * now holds more than `maxSessions` live sessions, the least recently used
 * (oldest last login or refresh, docs/protocol.md §3 v1.2) are revoked
 * (`session_cap`) with a `session` revocation event each (docs/protocol.md §6),
 * in the same transaction, so realtime disconnects them too.
 *
 * @param db - the D1 binding
 * @param user - the authenticated user
 * @param now - Unix seconds
 * @param options - {@link CreateSessionOptions}
 */
export async function createSession(
  db: D1Database,
  user: UserRow,
  now: number,
  options: CreateSessionOptions,
): Promise<SessionGrant> {
  const sid = crypto.randomUUID()
  const expiresAt = now + options.sessionTtlSeconds
  const refreshToken = newRefreshToken()
  // The sessions past the cap: all but the most recently used (rowid breaks ties within a second).
  const overCap = `SELECT sid FROM sessions WHERE sub = ?1 AND revoked_at IS NULL AND expires_at > ?2
    AND sid NOT IN (SELECT sid FROM sessions WHERE sub = ?1 AND revoked_at IS NULL AND expires_at > ?2
                    ORDER BY last_used_at DESC, rowid DESC LIMIT ?3)`
  const userAgent = options.userAgent
    ? [...options.userAgent].slice(0, USER_AGENT_MAX_CHARS).join('')
    : null
  const results = await db.batch([
    db
      .prepare(
        `INSERT INTO sessions (sid, sub, created_at, expires_at, last_used_at, method, user_agent, jkt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .bind(
        sid,
        user.sub,
        now,
        expiresAt,
        now,
        options.method ?? 'password',
        userAgent,
        options.jkt ?? null,
      ),
    db
      .prepare('INSERT INTO refresh_tokens (token_hash, sid, created_at) VALUES (?, ?, ?)')
      .bind(await hashRefreshToken(refreshToken), sid, now),
    // Events first, then the rows they describe: both select the same set inside one transaction.
    db
      .prepare(
        `INSERT INTO revocations (kind, id, at, until) SELECT 'session', sid, ?2, ?4 FROM (${overCap})`,
      )
      .bind(
        user.sub,
        now,
        options.maxSessions,
        revocationUntil(now, options.accessTokenTtlSeconds),
      ),
    db
      .prepare(
        `UPDATE sessions SET revoked_at = ?2, revoked_why = 'session_cap' WHERE sid IN (${overCap})`,
      )
      .bind(user.sub, now, options.maxSessions),
  ])
  const capped = results[3]?.meta.changes ?? 0
  if (capped > 0)
    log('info', 'session cap reached: least recently used revoked', {
      sub: user.sub,
      count: capped,
    })
  return { sid, expiresAt, refreshToken, user, ...(options.jkt && { jkt: options.jkt }) }
}

/** Options of {@link rotateRefreshToken}. */
export interface RotateOptions {
  /** Access-token lifetime, for the `until` of a reuse revocation. */
  accessTokenTtlSeconds: number
  /** Refreshes of one session per {@link REFRESH_THROTTLE_WINDOW_SECONDS} before `rate_limited`. */
  limitPerSession: number
  /** The thumbprint of the DPoP proof sent with the refresh; undefined without one. */
  jkt?: string | undefined
  /** `DPOP=required`: a bearer (unbound) session is refused too. @default false */
  requireBinding?: boolean
}

/**
 * Spend a refresh token and issue its successor.
 *
 * The spend is one conditional UPDATE that also requires a live session and
 * an enabled user, so of two requests racing with one token exactly one wins.
 * A token that was already spent is reuse: the whole session is revoked,
 * whatever the session's refresh rate (reuse is never hidden behind a 429).
 * A live token is refused with `rate_limited` once its session has been
 * refreshed `limitPerSession` times within the window; the count is of spent
 * rows, which a session's chain spends one after another, so D1 holds it.
 *
 *
 * A session bound to a DPoP key (docs/protocol.md §15) is spent only when
 * `jkt`, the key of the request's proof, is that key; the condition is part
 * of the one UPDATE. Without it the refresh is refused with
 * `invalid_dpop_proof` and nothing changes: the token stays unspent (its
 * owner's next refresh works) and a spent one does not trip reuse, so a thief
 * without the key can neither use nor burn it. A bearer session stays a bearer
 * session: a proof sent with its refresh is checked but does not bind it
 * (docs/dpop.md), and with `requireBinding` (`DPOP=required`) it is refused.
 *
 * @throws AppError `invalid_grant` for unknown, spent, expired or revoked tokens
 * @throws AppError `invalid_dpop_proof` when the session's binding is not met
 * @throws AppError `rate_limited` (with `retryAfterSeconds`) past the per-session limit
 */
export async function rotateRefreshToken(
  db: D1Database,
  token: string,
  now: number,
  { accessTokenTtlSeconds, limitPerSession, jkt, requireBinding = false }: RotateOptions,
): Promise<SessionGrant> {
  const hash = await hashRefreshToken(token)
  const since = now - REFRESH_THROTTLE_WINDOW_SECONDS
  // Only a live session's token is throttled: a dead one gets its 401 at once.
  const recent = await db
    .prepare(
      `SELECT COUNT(*) AS n, MIN(r.spent_at) AS oldest FROM refresh_tokens t
       JOIN sessions s ON s.sid = t.sid AND s.revoked_at IS NULL AND s.expires_at > ?3
       JOIN refresh_tokens r ON r.sid = t.sid AND r.spent_at > ?2
       WHERE t.token_hash = ?1 AND t.spent_at IS NULL`,
    )
    .bind(hash, since, now)
    .first<{ n: number; oldest: number | null }>()
  if (recent && recent.n >= limitPerSession && recent.oldest !== null) {
    throw new AppError('rate_limited', 'refresh throttled for this session', {
      retryAfterSeconds: recent.oldest + REFRESH_THROTTLE_WINDOW_SECONDS - now,
    })
  }
  const spent = await db
    .prepare(
      `UPDATE refresh_tokens SET spent_at = ?1
       WHERE token_hash = ?2 AND spent_at IS NULL AND sid IN (
         SELECT s.sid FROM sessions s JOIN users u ON u.sub = s.sub
         WHERE s.revoked_at IS NULL AND s.expires_at > ?1 AND u.disabled_at IS NULL
         AND (s.jkt = ?3 OR (s.jkt IS NULL AND ?4 = 0)))
       RETURNING sid`,
    )
    .bind(now, hash, jkt ?? null, requireBinding ? 1 : 0)
    .first<{ sid: string }>()
  if (!spent) {
    const row = await db
      .prepare(
        `SELECT t.sid, t.spent_at, s.jkt FROM refresh_tokens t
         LEFT JOIN sessions s ON s.sid = t.sid WHERE t.token_hash = ?`,
      )
      .bind(hash)
      .first<{ sid: string; spent_at: number | null; jkt: string | null }>()
    // Checked before reuse: a request without the session's key changes nothing.
    if (row && (row.jkt !== null ? row.jkt !== jkt : requireBinding)) {
      log('warn', 'refresh refused: DPoP binding not met', {
        sid: row.sid,
        jkt: row.jkt,
        proofJkt: jkt ?? null,
      })
      throw new AppError(
        'invalid_dpop_proof',
        row.jkt === null
          ? 'bearer session, and DPOP=required'
          : 'not the key the session is bound to',
      )
    }
    if (row && row.spent_at !== null) {
      await revokeSession(db, row.sid, now, 'reuse', accessTokenTtlSeconds)
      throw new AppError('invalid_grant', 'refresh token reused; session revoked')
    }
    throw new AppError(
      'invalid_grant',
      row ? 'session revoked, expired or user disabled' : 'unknown refresh token',
    )
  }
  const session = await db
    .prepare(
      `SELECT s.sid, s.expires_at, s.jkt, u.sub, u.username, u.password_hash, u.scope, u.rooms, u.disabled_at
       FROM sessions s JOIN users u ON u.sub = s.sub WHERE s.sid = ?`,
    )
    .bind(spent.sid)
    .first<UserRow & { sid: string; expires_at: number; jkt: string | null }>()
  if (!session) throw new AppError('invalid_grant', 'session vanished')
  const refreshToken = newRefreshToken()
  await db.batch([
    db
      .prepare('INSERT INTO refresh_tokens (token_hash, sid, created_at) VALUES (?, ?, ?)')
      .bind(await hashRefreshToken(refreshToken), session.sid, now),
    // A refresh is a use: the session cap spares the sessions used last.
    db.prepare('UPDATE sessions SET last_used_at = ? WHERE sid = ?').bind(now, session.sid),
  ])
  const { sid, expires_at: expiresAt, jkt: bound, ...user } = session
  return { sid, expiresAt, refreshToken, user, ...(bound !== null && { jkt: bound }) }
}

/**
 * The session a refresh token belongs to, spent or not (logout accepts both).
 *
 * @returns the `sid`, or undefined for an unknown token
 */
export async function sessionOfRefreshToken(
  db: D1Database,
  token: string,
): Promise<string | undefined> {
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
    db
      .prepare(
        'UPDATE sessions SET revoked_at = ?, revoked_why = ? WHERE sid = ? AND revoked_at IS NULL',
      )
      .bind(now, why, sid),
    db
      .prepare(
        `INSERT INTO revocations (kind, id, at, until) SELECT 'session', ?, ?, ? WHERE changes() = 1`,
      )
      .bind(sid, now, revocationUntil(now, accessTokenTtlSeconds)),
  ])
  return (update?.meta.changes ?? 0) === 1
}

/**
 * Disable a user: mark the row, revoke every session, and record a `user`
 * revocation event, all in one transaction.
 */
export async function disableUser(
  db: D1Database,
  sub: string,
  now: number,
  accessTokenTtlSeconds: number,
): Promise<void> {
  await db.batch([
    db
      .prepare('UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE sub = ?')
      .bind(now, sub),
    db
      .prepare(
        `UPDATE sessions SET revoked_at = ?, revoked_why = 'user_disabled' WHERE sub = ? AND revoked_at IS NULL`,
      )
      .bind(now, sub),
    revocationStatement(db, {
      kind: 'user',
      id: sub,
      at: now,
      until: revocationUntil(now, accessTokenTtlSeconds),
    }),
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
