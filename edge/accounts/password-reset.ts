import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { hashPassword } from '../auth/password.ts'
import { emailKey, normalizePassword, usernameKey } from '../auth/schemas.ts'
import { clientAddress, loginThrottle } from '../auth/throttle.ts'
import { findUserByEmail, findUserBySub, findUserByUsername } from '../auth/users.ts'
import type { EdgeConfig } from '../config.ts'
import { FORGOT_PER_ACCOUNT, FORGOT_PER_ADDRESS, FORGOT_WINDOW_SECONDS } from '../constants.ts'
import { log } from '../http/log.ts'
import { linkBase, resetMail } from '../mail/messages.ts'
import { mailAfterResponse, sendAccountMail } from '../mail/send.ts'
import type { AppEnv } from '../types.ts'
import { issueMailToken, peekMailToken, spendMailTokenStatement } from './mail-tokens.ts'
import { assertStrongPassword } from './password-rules.ts'
import { revokeUserSessionsStatements } from './revoke-sessions.ts'
import type { ForgotBody, ResetBody } from './schemas.ts'

/**
 * `POST /auth/password/forgot` with `{ username }` or `{ email }`: 202 with
 * the same body whether or not the account exists. After the two throttles
 * (per address, and per account as named, so they say nothing either),
 * everything that depends on the account (the lookup, the token, the mail)
 * runs after the response, so the answer takes the same time either way. A
 * reset mail goes only to a verified email.
 */
export async function forgotPassword<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof ForgotBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const named =
    'email' in body ? `email:${emailKey(body.email)}` : `user:${usernameKey(body.username)}`
  const verdicts = await Promise.all([
    loginThrottle(c.env, clientAddress(c.req.raw)).take(
      'forgot',
      FORGOT_PER_ADDRESS,
      FORGOT_WINDOW_SECONDS,
      now,
    ),
    loginThrottle(c.env, `account:${named}`).take(
      'forgot',
      FORGOT_PER_ACCOUNT,
      FORGOT_WINDOW_SECONDS,
      now,
    ),
  ])
  for (const verdict of verdicts) {
    if (!verdict.allowed)
      throw new AppError('rate_limited', 'forgot-password throttled', {
        retryAfterSeconds: verdict.retryAfterSeconds,
      })
  }
  mailAfterResponse(c, mailReset(c.env, c.get('config'), body, now))
  c.header('Cache-Control', 'no-store')
  return c.json({ status: 'accepted' as const }, 202)
}

async function mailReset(
  env: Env,
  config: EdgeConfig,
  body: v.InferOutput<typeof ForgotBody>,
  now: number,
): Promise<void> {
  const user =
    'email' in body
      ? await findUserByEmail(env.DB, body.email)
      : await findUserByUsername(env.DB, body.username)
  if (!user || user.disabled_at !== null || !user.email || !user.email_verified_at) {
    log('info', 'reset not mailed: no enabled account with a verified email')
    return
  }
  const token = await issueMailToken(env.DB, user.sub, 'reset', now)
  const base = linkBase(config.issuer, config.accounts.linkBase)
  await sendAccountMail(env, config, resetMail(user.email, user.username, base, token), {
    sub: user.sub,
    now,
  })
}

/**
 * `POST /auth/password/reset` with the token from the mail and a new
 * password: 204. The token is checked first (401 `invalid_grant`), then the
 * password's rules (400 `weak_password`, the token still usable), then one
 * transaction spends the token, sets the hash, voids other mail tokens and
 * revokes every session with its `session` event plus a `user` event
 * (docs/protocol.md §6), so open sockets close.
 */
export async function resetPassword<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof ResetBody>,
) {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  const row = await peekMailToken(c.env.DB, body.token, 'reset', now)
  const user = row ? await findUserBySub(c.env.DB, row.sub) : undefined
  if (!row || !user || user.disabled_at !== null)
    throw new AppError('invalid_grant', 'reset token unknown, used or expired')
  assertStrongPassword(body.password, user.username)
  const hash = await hashPassword(normalizePassword(body.password))
  const db = c.env.DB
  const [spent] = await db.batch([
    await spendMailTokenStatement(db, body.token, 'reset', now),
    // Every statement after the spend is void unless the spend won (changes() of the one before).
    db
      .prepare('UPDATE users SET password_hash = ?1 WHERE sub = ?2 AND changes() = 1')
      .bind(hash, user.sub),
    // Unconditional: if a racing reset with the same token won, it has revoked them already.
    ...revokeUserSessionsStatements(db, user.sub, now, 'password_reset', {
      userEvent: true,
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    }),
  ])
  if ((spent?.meta.changes ?? 0) !== 1)
    throw new AppError('invalid_grant', 'reset token already used')
  log('info', 'password reset', { sub: user.sub })
  return c.body(null, 204)
}
