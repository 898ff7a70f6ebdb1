import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError, isAppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'
import { clearRefreshCookie, readRefreshCookie } from './refresh-cookie.ts'
import type { RefreshBody } from './schemas.ts'
import { rotateRefreshToken } from './sessions.ts'
import { tokenResponse } from './token-response.ts'

/**
 * `POST /auth/refresh`: spend the refresh token (from the body, or in cookie
 * mode from the HttpOnly cookie) and answer with a new pair.
 */
export async function refresh<E extends AppEnv>(c: Context<E>, body: v.InferOutput<typeof RefreshBody> | undefined) {
  const now = Math.floor(c.get('now') / 1000)
  const token = body?.refresh_token ?? readRefreshCookie(c)
  if (token === undefined) throw new AppError('invalid_request', 'refresh_token: required')
  try {
    const grant = await rotateRefreshToken(c.env.DB, token, now, c.get('config').accessTokenTtlSeconds)
    return await tokenResponse(c, grant)
  } catch (err) {
    if (isAppError(err) && err.code === 'invalid_grant') clearRefreshCookie(c)
    throw err
  }
}
