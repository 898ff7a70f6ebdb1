import type { Context } from 'hono'
import type { AccessClaims } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { revokeSession, type SessionMethod } from '../auth/sessions.ts'
import type { AppEnv } from '../types.ts'

/** One entry of `GET /auth/sessions` (docs/protocol.md §13). */
export interface SessionView {
  sid: string
  createdAt: number
  lastUsedAt: number
  userAgent?: string
  method: SessionMethod
  current: boolean
}

type ClaimsEnv = AppEnv & { Variables: { claims: AccessClaims } }

/**
 * `GET /auth/sessions` (bearer access token): the caller's live sessions,
 * most recently used first (the cap bounds them to `MAX_SESSIONS_PER_USER`).
 */
export async function listMySessions<E extends ClaimsEnv>(c: Context<E>) {
  const claims = c.get('claims')
  const now = Math.floor(c.get('now') / 1000)
  const { results } = await c.env.DB.prepare(
    `SELECT sid, created_at, last_used_at, user_agent, method FROM sessions
     WHERE sub = ? AND revoked_at IS NULL AND expires_at > ?
     ORDER BY last_used_at DESC, rowid DESC`,
  )
    .bind(claims.sub, now)
    .all<{
      sid: string
      created_at: number
      last_used_at: number | null
      user_agent: string | null
      method: SessionMethod
    }>()
  const sessions: SessionView[] = results.map((r) => ({
    sid: r.sid,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at ?? r.created_at,
    ...(r.user_agent !== null && { userAgent: r.user_agent }),
    method: r.method,
    current: r.sid === claims.sid,
  }))
  c.header('Cache-Control', 'no-store')
  return c.json({ sessions })
}

/**
 * `DELETE /auth/sessions/:sid` (bearer access token): 204, that session of
 * the caller's revoked with its `session` event, so its sockets close as on
 * logout. 404 for a session that is not the caller's or not live, so a user
 * learns nothing about other users' session ids.
 */
export async function revokeMySession<E extends ClaimsEnv>(c: Context<E>) {
  const claims = c.get('claims')
  const now = Math.floor(c.get('now') / 1000)
  const sid = c.req.param('sid') ?? ''
  const mine = await c.env.DB.prepare(
    'SELECT 1 AS ok FROM sessions WHERE sid = ? AND sub = ? AND revoked_at IS NULL AND expires_at > ?',
  )
    .bind(sid, claims.sub, now)
    .first<{ ok: number }>()
  if (!mine) throw new AppError('not_found', 'no such live session of this user')
  await revokeSession(c.env.DB, sid, now, 'revoked_by_user', c.get('config').accessTokenTtlSeconds)
  return c.body(null, 204)
}
