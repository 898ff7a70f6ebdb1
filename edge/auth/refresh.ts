import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError, isAppError } from '../../shared/errors.ts'
import { REFRESH_THROTTLE_WINDOW_SECONDS } from '../constants.ts'
import type { AppEnv } from '../types.ts'
import { clearRefreshCookie, readRefreshCookie } from './refresh-cookie.ts'
import type { RefreshBody } from './schemas.ts'
import { rotateRefreshToken } from './sessions.ts'
import { clientAddress, loginThrottle } from './throttle.ts'
import { tokenResponse } from './token-response.ts'

/**
 * `POST /auth/refresh`: spend the refresh token (from the body, or in cookie
 * mode from the HttpOnly cookie) and answer with a new pair. Every attempt is
 * first charged to the client address (before any D1 work, unknown tokens
 * included); the session's own limit is checked when the token is spent.
 * Past either, 429 `rate_limited` with `Retry-After` (docs/protocol.md §3).
 */
export async function refresh<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof RefreshBody> | undefined,
) {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  const token = body?.refresh_token ?? readRefreshCookie(c)
  if (token === undefined) throw new AppError('invalid_request', 'refresh_token: required')
  const verdict = await loginThrottle(c.env, clientAddress(c.req.raw)).take(
    'refresh',
    config.refreshLimitPerAddress,
    REFRESH_THROTTLE_WINDOW_SECONDS,
    now,
  )
  if (!verdict.allowed) {
    throw new AppError('rate_limited', 'refresh throttled for this address', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
  }
  try {
    const grant = await rotateRefreshToken(c.env.DB, token, now, {
      accessTokenTtlSeconds: config.accessTokenTtlSeconds,
      limitPerSession: config.refreshLimitPerSession,
      jkt: c.get('dpopJkt'),
      requireBinding: config.dpop.mode === 'required',
    })
    return await tokenResponse(c, grant)
  } catch (err) {
    if (isAppError(err) && err.code === 'invalid_grant') clearRefreshCookie(c)
    throw err
  }
}
