import type { Context } from 'hono'
import type * as v from 'valibot'
import type { AccessClaims } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { hashPassword, verifyPassword } from '../auth/password.ts'
import { normalizePassword, usernameKey } from '../auth/schemas.ts'
import { clientAddress, loginThrottle } from '../auth/throttle.ts'
import { findUserBySub } from '../auth/users.ts'
import { log } from '../http/log.ts'
import { passwordChangedMail } from '../mail/messages.ts'
import { mailAfterResponse, sendAccountMail } from '../mail/send.ts'
import type { AppEnv } from '../types.ts'
import { assertStrongPassword } from './password-rules.ts'
import { revokeUserSessionsStatements } from './revoke-sessions.ts'
import type { ChangePasswordBody } from './schemas.ts'

/**
 * `POST /auth/password` (bearer access token): 204 once the current password
 * checks out and the new one passes the §13 rules. Every other session of the
 * user is revoked with its `session` event; the caller's stays. A wrong
 * current password is 401 `invalid_credentials` and counts as a failed login
 * (429 past the login limits), so a stolen access token cannot guess it fast.
 */
export async function changePassword<E extends AppEnv & { Variables: { claims: AccessClaims } }>(
  c: Context<E>,
  body: v.InferOutput<typeof ChangePasswordBody>,
) {
  const config = c.get('config')
  const claims = c.get('claims')
  const now = Math.floor(c.get('now') / 1000)
  const user = await findUserBySub(c.env.DB, claims.sub)
  if (!user) throw new AppError('unauthorized', 'user gone')
  const userKey = usernameKey(user.username)
  const throttle = loginThrottle(c.env, clientAddress(c.req.raw))
  const verdict = await throttle.attempt(userKey, now)
  if (!verdict.allowed)
    throw new AppError('rate_limited', 'password change throttled', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
  const check = await verifyPassword(normalizePassword(body.current_password), user.password_hash)
  if (!check.ok) throw new AppError('invalid_credentials', 'current password wrong')
  await throttle.succeed(userKey, now)
  assertStrongPassword(body.new_password, user.username)
  const hash = await hashPassword(normalizePassword(body.new_password))
  const db = c.env.DB
  await db.batch([
    db
      .prepare('UPDATE users SET password_hash = ? WHERE sub = ? AND password_hash = ?')
      .bind(hash, user.sub, user.password_hash),
    db.prepare(`DELETE FROM mail_tokens WHERE sub = ? AND kind = 'reset'`).bind(user.sub),
    ...revokeUserSessionsStatements(db, user.sub, now, 'password_changed', {
      except: claims.sid,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    }),
  ])
  log('info', 'password changed', { sub: user.sub })
  if (user.email && user.email_verified_at)
    mailAfterResponse(
      c,
      sendAccountMail(c.env, config, passwordChangedMail(user.email, user.username), {
        sub: user.sub,
        now,
      }),
    )
  return c.body(null, 204)
}
