import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { burnPasswordCheck, hashPassword, verifyPassword } from './password.ts'
import type { LoginBody } from './schemas.ts'
import { normalizePassword, usernameKey } from './schemas.ts'
import { openSession } from './open-session.ts'
import { clientAddress, loginThrottle } from './throttle.ts'
import { tokenResponse } from './token-response.ts'
import { findUserByUsername, NO_PASSWORD, replacePasswordHash, type UserRow } from './users.ts'

/**
 * `POST /auth/login`. Throttling is checked before any hashing; an unknown
 * user, a wrong password and a disabled user all run one full hash and get
 * the same 401, so neither body nor timing tells them apart.
 */
export async function login<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof LoginBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const userKey = usernameKey(body.username)
  const throttle = loginThrottle(c.env, clientAddress(c.req.raw))
  // Counts as a failure until `succeed`, so parallel guesses cannot outrun the limit.
  const verdict = await throttle.attempt(userKey, now)
  if (!verdict.allowed) {
    throw new AppError('rate_limited', 'login throttled', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
  }

  const password = normalizePassword(body.password)
  const user = await findUserByUsername(c.env.DB, body.username)
  let failure: LoginFailure | undefined
  if (!user) {
    await burnPasswordCheck(password)
    failure = 'unknown_user'
  } else if (user.password_hash === NO_PASSWORD) {
    // A passkey-only account: no password is right, and it answers no faster.
    await burnPasswordCheck(password)
    failure = 'wrong_password'
  } else {
    const check = await verifyPassword(password, user.password_hash)
    if (!check.ok)
      failure = check.reason === 'unsupported_hash' ? 'unsupported_hash' : 'wrong_password'
    else if (user.disabled_at !== null) failure = 'user_disabled'
    else if (awaitsVerification(user, c.get('config').accounts.emailVerificationRequired))
      failure = 'email_unverified'
    else if (check.needsRehash) {
      c.executionCtx.waitUntil(
        hashPassword(password).then((h) =>
          replacePasswordHash(c.env.DB, user.sub, user.password_hash, h),
        ),
      )
    }
  }
  if (failure !== undefined || !user) throw loginRefused(failure ?? 'unknown_user', user?.sub)
  await throttle.succeed(userKey, now)
  return tokenResponse(c, await openSession(c, user))
}

/** Why a login is refused, internally; on the wire every one is `invalid_credentials`. */
type LoginFailure =
  'unknown_user' | 'wrong_password' | 'user_disabled' | 'unsupported_hash' | 'email_unverified'

/**
 * Whether `EMAIL_VERIFICATION=required` keeps this user out: an email is set
 * and not yet verified (docs/protocol.md §13). A user without an email (one
 * an admin created) is not held back.
 */
export function awaitsVerification(user: UserRow, required: boolean): boolean {
  return required && !!user.email && !user.email_verified_at
}

/**
 * The one place a login failure becomes its error (docs/protocol.md §3): the
 * client sees `invalid_credentials` whatever the reason, so it cannot tell
 * an unknown user from a wrong password; the log line names the reason, and a
 * stored hash this build cannot check is an operator's problem, logged as an error.
 */
function loginRefused(failure: LoginFailure, sub: string | undefined): AppError {
  switch (failure) {
    case 'unsupported_hash':
      log('error', 'password hash unsupported', { sub })
      return new AppError('invalid_credentials', 'stored hash unsupported')
    case 'unknown_user':
      return new AppError('invalid_credentials', 'unknown user')
    case 'wrong_password':
      return new AppError('invalid_credentials', 'wrong password')
    case 'user_disabled':
      return new AppError('invalid_credentials', 'user disabled')
    case 'email_unverified':
      return new AppError('invalid_credentials', 'email not verified')
    default: {
      const unhandled: never = failure
      return unhandled
    }
  }
}
