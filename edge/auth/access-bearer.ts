import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { createLocalJWKSet } from 'jose'
import type { AccessClaims } from '../../shared/claims.ts'
import { AppError, isAppError, type EdgeErrorCode } from '../../shared/errors.ts'
import { verifyAccessToken } from '../../shared/verify-access-token.ts'
import { readBearer } from '../http/bearer.ts'
import { keyStore } from '../keys/store.ts'
import type { AppEnv } from '../types.ts'

/**
 * Verify `Authorization: Bearer <access token>` against the edge's own
 * published keys. A refused token becomes `code` (logout answers
 * `invalid_grant`, account routes `unauthorized`) with jose's reason kept for
 * the log only.
 *
 * @param c - the request context
 * @param code - the contract code of a refusal
 * @returns the token's claims, or undefined when no bearer was sent
 */
export async function readAccessBearer<E extends AppEnv>(
  c: Context<E>,
  code: EdgeErrorCode,
): Promise<AccessClaims | undefined> {
  const bearer = readBearer(c.req.header('authorization'))
  if (bearer === undefined) return undefined
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  try {
    const jwks = createLocalJWKSet({ keys: await keyStore(c.env).jwks(now) })
    const { claims } = await verifyAccessToken(bearer, jwks, {
      issuer: config.issuer,
      audience: config.audience,
      currentDate: new Date(now * 1000),
    })
    return claims
  } catch (err) {
    if (isAppError(err) && err.code.startsWith('token_'))
      throw new AppError(code, `access token refused: ${err.message}`)
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
