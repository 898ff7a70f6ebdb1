import type { Context } from 'hono'
import type { AppEnv } from '../types.ts'
import { createSession, type SessionGrant, type SessionMethod } from './sessions.ts'
import type { UserRow } from './users.ts'

/** Options of {@link openSession}. */
export interface OpenSessionOptions {
  /**
   * Bind the session to this DPoP key thumbprint (docs/protocol.md §15). A
   * federated login passes the `dpop_jkt` its `/start` was given (RFC 9449 §10).
   * @default c.get('dpopJkt'): the key of the request's DPoP proof, if it sent one
   */
  jkt?: string | undefined
}

/**
 * Start a session for a request that authenticated `user` (login, sign-up,
 * email verification, passkeys, federated login), with the configured lifetime
 * and cap, the request's `User-Agent` for the user's session list, and the
 * DPoP binding of the request's proof: every path that opens a session binds
 * the same way.
 *
 * @param c - the request context
 * @param user - the authenticated user
 * @param method - how they authenticated. @default 'password'
 * @param options - {@link OpenSessionOptions}
 * @example
 * ```ts
 * return tokenResponse(c, await openSession(c, user, 'federated', { jkt: flow.dpopJkt }))
 * ```
 */
export function openSession<E extends AppEnv>(
  c: Context<E>,
  user: UserRow,
  method: SessionMethod = 'password',
  options: OpenSessionOptions = {},
): Promise<SessionGrant> {
  const config = c.get('config')
  const jkt = options.jkt ?? c.get('dpopJkt')
  return createSession(c.env.DB, user, Math.floor(c.get('now') / 1000), {
    sessionTtlSeconds: config.sessionTtlSeconds,
    maxSessions: config.maxSessionsPerUser,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    method,
    userAgent: c.req.header('user-agent'),
    jkt,
  })
}
