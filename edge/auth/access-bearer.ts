import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { createLocalJWKSet } from 'jose'
import type { AccessClaims } from '../../shared/claims.ts'
import { AppError, isAppError, type EdgeErrorCode } from '../../shared/errors.ts'
import { verifyAccessToken } from '../../shared/verify-access-token.ts'
import { verifyTokenRequest } from '../../shared/verify-request.ts'
import { durableReplayCache } from '../dpop/replay-cache.ts'
import { dpopServerKey } from '../dpop/server-key.ts'
import { log } from '../http/log.ts'
import { keyStore } from '../keys/store.ts'
import type { AppEnv } from '../types.ts'

/**
 * Verify the request's access token against the edge's own published keys:
 * `Authorization: Bearer <token>`, or for a token bound to a DPoP key
 * (docs/protocol.md §15) `Authorization: DPoP <token>` with a `DPoP` proof of
 * this request (RFC 9449 §7 through `verifyTokenRequest`, its `jti` in the
 * edge's replay cache). A bound token without its proof is refused like a bad
 * token: otherwise a stolen access token could register a passkey or list and
 * end sessions. A refused token becomes `code` (logout answers
 * `invalid_grant`, account routes `unauthorized`) with the reason and the key's
 * thumbprint kept for the log only.
 *
 * @param c - the request context
 * @param code - the contract code of a refusal
 * @returns the token's claims, or undefined when no Bearer or DPoP token was sent
 */
export async function readAccessBearer<E extends AppEnv>(
  c: Context<E>,
  code: EdgeErrorCode,
): Promise<AccessClaims | undefined> {
  const authorization = c.req.header('authorization')
  if (!authorization || !/^(Bearer|DPoP) /i.test(authorization)) return undefined
  const config = c.get('config')
  const nowMs = c.get('now')
  const now = Math.floor(nowMs / 1000)
  try {
    const jwks = createLocalJWKSet({ keys: await keyStore(c.env).jwks(now) })
    const { claims } = await verifyTokenRequest(
      { method: c.req.method, url: c.req.url, headers: c.req.raw.headers },
      (token) =>
        verifyAccessToken(token, jwks, {
          issuer: config.issuer,
          audience: config.audience,
          currentDate: new Date(nowMs),
        }),
      {
        replayCache: durableReplayCache(c.env.DPOP_JTIS, {
          key: await dpopServerKey(c.env.KEY_ENCRYPTION_KEY),
          nowMs,
        }),
        now: () => nowMs,
      },
    )
    return claims
  } catch (err) {
    if (isAppError(err) && (err.code.startsWith('token_') || err.code.startsWith('dpop_'))) {
      if (err.code.startsWith('dpop_'))
        log('warn', 'bound access token refused', { check: err.message })
      throw new AppError(code, `access token refused: ${err.message}`)
    }
    throw err
  }
}

/**
 * Middleware for the account routes a user calls with their access token
 * (docs/protocol.md §13): 401 `unauthorized` without a valid one, whose
 * session must still be live (a revoked session's token is refused here at
 * once, not only when it expires). The claims are in `c.get('claims')`.
 */
export const requireAccessToken = createMiddleware<
  AppEnv & { Variables: { claims: AccessClaims } }
>(async function requireAccessToken(c, next) {
  const claims = await readAccessBearer(c, 'unauthorized')
  if (!claims) throw new AppError('unauthorized', 'bearer access token required')
  const now = Math.floor(c.get('now') / 1000)
  const live = await c.env.DB.prepare(
    `SELECT 1 AS ok FROM sessions s JOIN users u ON u.sub = s.sub
       WHERE s.sid = ? AND s.sub = ? AND s.revoked_at IS NULL AND s.expires_at > ?
       AND u.disabled_at IS NULL AND u.deleted_at IS NULL`,
  )
    .bind(claims.sid, claims.sub, now)
    .first<{ ok: number }>()
  if (!live) throw new AppError('unauthorized', 'session revoked, expired or user disabled')
  c.set('claims', claims)
  await next()
})
