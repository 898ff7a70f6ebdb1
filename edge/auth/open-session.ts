import type { Context } from 'hono'
import type { AppEnv } from '../types.ts'
import { createSession, type SessionGrant, type SessionMethod } from './sessions.ts'
import type { UserRow } from './users.ts'

/**
 * Start a session for a request that authenticated `user` (login, sign-up,
 * email verification), with the configured lifetime and cap, and the
 * request's `User-Agent` for the user's session list.
 *
 * @param c - the request context
 * @param user - the authenticated user
 * @param method - how they authenticated. @default 'password'
 */
export function openSession<E extends AppEnv>(
  c: Context<E>,
  user: UserRow,
  method: SessionMethod = 'password',
): Promise<SessionGrant> {
  const config = c.get('config')
  return createSession(c.env.DB, user, Math.floor(c.get('now') / 1000), {
    sessionTtlSeconds: config.sessionTtlSeconds,
    maxSessions: config.maxSessionsPerUser,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    method,
    userAgent: c.req.header('user-agent'),
  })
}
