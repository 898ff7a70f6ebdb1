import type { Context } from 'hono'
import type { CookieTokenResponse, TokenResponse } from '../../shared/claims.ts'
import { getSigningKey, mintAccessToken } from '../keys/signer.ts'
import type { AppEnv } from '../types.ts'
import { setRefreshCookie, wantsRefreshCookie } from './refresh-cookie.ts'
import type { SessionGrant } from './sessions.ts'
import { roomsOf } from './users.ts'

/**
 * Mint an access token for a session and answer with the token response of
 * docs/protocol.md §3, marked `no-store` so no cache keeps it. A session bound
 * to a DPoP key gets `cnf.jkt` in its access token and `token_type: "DPoP"`. In cookie mode the
 * refresh token goes only into the HttpOnly cookie, never the body.
 *
 * @param c - the request context
 * @param grant - the session and its new refresh token
 * @param status - 200, or 201 for a sign-up. @default 200
 */
export async function tokenResponse<E extends AppEnv>(
  c: Context<E>,
  grant: SessionGrant,
  status: 200 | 201 = 200,
) {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  const signer = await getSigningKey(c.env, now)
  const accessToken = await mintAccessToken(
    signer,
    {
      sub: grant.user.sub,
      sid: grant.sid,
      name: grant.user.username,
      scope: grant.user.scope,
      rooms: roomsOf(grant.user),
      ...(grant.jkt !== undefined && { cnf: { jkt: grant.jkt } }),
    },
    {
      issuer: config.issuer,
      audience: config.audience,
      ttlSeconds: config.accessTokenTtlSeconds,
      now,
    },
  )
  const refreshExpiresIn = Math.max(0, grant.expiresAt - now)
  const cookie = wantsRefreshCookie(c)
  if (cookie) setRefreshCookie(c, grant.refreshToken, refreshExpiresIn)
  const body: TokenResponse | CookieTokenResponse = {
    access_token: accessToken,
    // A bound session's tokens are DPoP tokens (RFC 9449 §5; docs/protocol.md §15).
    token_type: grant.jkt !== undefined ? 'DPoP' : 'Bearer',
    expires_in: config.accessTokenTtlSeconds,
    ...(!cookie && { refresh_token: grant.refreshToken }),
    refresh_expires_in: refreshExpiresIn,
    scope: grant.user.scope,
  }
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  return c.json(body, status)
}
