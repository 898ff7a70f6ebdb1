import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'
import { readAccessBearer } from './access-bearer.ts'
import type { LogoutBody } from './schemas.ts'
import { clearRefreshCookie, readRefreshCookie } from './refresh-cookie.ts'
import { revokeSession, sessionOfRefreshToken } from './sessions.ts'

/**
 * `POST /auth/logout` with `{ refresh_token }` or `Authorization: Bearer
 * <access token>`: revoke the session and record the event. Logging out an
 * already-ended session succeeds (logout is idempotent); an unknown or
 * invalid credential is 401 `invalid_grant`.
 */
export async function logout<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof LogoutBody> | undefined,
) {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  let sid: string | undefined
  const refreshToken = body?.refresh_token ?? readRefreshCookie(c)
  if (refreshToken !== undefined) {
    clearRefreshCookie(c)
    sid = await sessionOfRefreshToken(c.env.DB, refreshToken)
    if (!sid) throw new AppError('invalid_grant', 'unknown refresh token')
  } else {
    const claims = await readAccessBearer(c, 'invalid_grant')
    if (claims === undefined)
      throw new AppError('invalid_request', 'refresh_token or a bearer access token is required')
    sid = claims.sid
  }
  await revokeSession(c.env.DB, sid, now, 'logout', config.accessTokenTtlSeconds)
  return c.body(null, 204)
}
