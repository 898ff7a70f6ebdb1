import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError, isAppError } from '../../shared/errors.ts'
import { openSession } from '../auth/open-session.ts'
import { usernameKey } from '../auth/schemas.ts'
import { clientAddress, loginThrottle } from '../auth/throttle.ts'
import { tokenResponse } from '../auth/token-response.ts'
import { createUser, findUserBySub, parseRooms } from '../auth/users.ts'
import { SIGNUP_WINDOW_SECONDS, SIGNUPS_PER_ADDRESS } from '../constants.ts'
import { log } from '../http/log.ts'
import { mailAfterResponse } from '../mail/send.ts'
import type { AppEnv } from '../types.ts'
import { restoreInvite, spendInvite, type InviteGrant } from './invites.ts'
import { assertStrongPassword } from './password-rules.ts'
import type { SignupBody } from './schemas.ts'
import { sendVerification } from './verification.ts'

/**
 * `POST /auth/signup` (docs/protocol.md §13). In order: the mode (403
 * `signup_closed` when off), the address's sign-up budget (429), the body's
 * rules (400 `weak_password`, or `invalid_request` without the email that
 * `EMAIL_VERIFICATION=required` needs), the login throttle of the username
 * (a taken username counts as a failed login, so sign-up cannot probe names
 * faster than login can), the invite in `invite` mode (403), then the user.
 * 201 with a token response, or 202 `{ verification: "sent" }` when the
 * account must verify its email before it logs in.
 */
/**
 * The checks every sign-up makes first, in order: the mode (403
 * `signup_closed` when off), the address's sign-up budget (429), the email
 * that `EMAIL_VERIFICATION=required` needs (400), the invite `invite` mode needs (403).
 *
 * @returns the address's throttle, for the username's login budget
 */
export async function admitSignup<E extends AppEnv>(
  c: Context<E>,
  body: { email?: string | undefined; invite?: string | undefined },
  now: number,
) {
  const { accounts } = c.get('config')
  if (accounts.signup === 'off') throw new AppError('signup_closed', 'SIGNUP is off')
  const throttle = loginThrottle(c.env, clientAddress(c.req.raw))
  const budget = await throttle.take('signup', SIGNUPS_PER_ADDRESS, SIGNUP_WINDOW_SECONDS, now)
  if (!budget.allowed) {
    throw new AppError('rate_limited', 'sign-up throttled for this address', {
      retryAfterSeconds: budget.retryAfterSeconds,
    })
  }
  if (accounts.emailVerificationRequired && body.email === undefined)
    throw new AppError('invalid_request', 'email: required when EMAIL_VERIFICATION is required')
  if (accounts.signup === 'invite' && body.invite === undefined)
    throw new AppError('signup_closed', 'invite required')
  return throttle
}

/**
 * In `invite` mode, spend the invite (403 when unknown, used or expired);
 * otherwise nothing.
 */
export async function spendSignupInvite<E extends AppEnv>(
  c: Context<E>,
  invite: string | undefined,
  now: number,
): Promise<InviteGrant | undefined> {
  if (c.get('config').accounts.signup !== 'invite') return undefined
  const grant = await spendInvite(c.env.DB, invite ?? '', now)
  if (!grant) throw new AppError('signup_closed', 'invite unknown, used or expired')
  return grant
}

export async function signup<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof SignupBody>,
) {
  const config = c.get('config')
  const { accounts } = config
  const now = Math.floor(c.get('now') / 1000)
  const throttle = await admitSignup(c, body, now)
  assertStrongPassword(body.password, body.username)
  const userKey = usernameKey(body.username)
  const verdict = await throttle.attempt(userKey, now)
  if (!verdict.allowed) {
    throw new AppError('rate_limited', 'sign-up throttled for this username', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
  }
  const grant = await spendSignupInvite(c, body.invite, now)
  let sub: string
  try {
    ;({ sub } = await createUser(
      c.env.DB,
      {
        username: body.username,
        password: body.password,
        email: body.email,
        scope: grant?.scope ?? accounts.signupScope,
        rooms: grant?.rooms ? parseRooms(grant.rooms) : accounts.signupRooms,
      },
      now,
    ))
  } catch (err) {
    // The invite was not used up by a sign-up that did not happen.
    if (isAppError(err) && err.code === 'conflict' && body.invite !== undefined && grant)
      await restoreInvite(c.env.DB, body.invite)
    throw err
  }
  await throttle.succeed(userKey, now)
  log('info', 'user signed up', { sub, mode: accounts.signup })
  const user = await findUserBySub(c.env.DB, sub)
  if (!user) throw new Error('signed-up user vanished')
  if (body.email !== undefined) {
    const email = body.email
    mailAfterResponse(
      c,
      sendVerification(c.env, config, { sub, username: user.username, email }, now),
    )
  }
  if (accounts.emailVerificationRequired) {
    c.header('Cache-Control', 'no-store')
    return c.json({ verification: 'sent' as const }, 202)
  }
  return tokenResponse(c, await openSession(c, user), 201)
}
