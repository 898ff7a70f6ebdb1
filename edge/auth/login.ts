import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { burnPasswordCheck, hashPassword, verifyPassword } from './password.ts'
import type { LoginBody } from './schemas.ts'
import { normalizePassword, usernameKey } from './schemas.ts'
import { createSession } from './sessions.ts'
import { clientAddress, loginThrottle } from './throttle.ts'
import { tokenResponse } from './token-response.ts'
import { findUserByUsername, replacePasswordHash } from './users.ts'

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
  let failure: string | undefined
  if (!user) {
    await burnPasswordCheck(password)
    failure = 'unknown user'
  } else {
    const check = await verifyPassword(password, user.password_hash)
    if (!check.ok)
      failure = check.reason === 'unsupported_hash' ? 'stored hash unsupported' : 'wrong password'
    else if (user.disabled_at !== null) failure = 'user disabled'
    else if (check.needsRehash) {
      c.executionCtx.waitUntil(
        hashPassword(password).then((h) =>
          replacePasswordHash(c.env.DB, user.sub, user.password_hash, h),
        ),
      )
    }
  }
  if (failure !== undefined || !user) {
    if (failure === 'stored hash unsupported')
      log('error', 'password hash unsupported', { sub: user?.sub })
    throw new AppError('invalid_credentials', failure ?? 'unknown user')
  }
  await throttle.succeed(userKey, now)
  const config = c.get('config')
  const grant = await createSession(c.env.DB, user, now, {
    sessionTtlSeconds: config.sessionTtlSeconds,
    maxSessions: config.maxSessionsPerUser,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
  })
  return tokenResponse(c, grant)
}
