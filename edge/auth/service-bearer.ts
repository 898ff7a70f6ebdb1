import { createLocalJWKSet } from 'jose'
import { createMiddleware } from 'hono/factory'
import { SERVICE_SCOPES, type ServiceScope } from '../../shared/constants.ts'
import { AppError, isAppError } from '../../shared/errors.ts'
import {
  verifyServiceToken as verifySharedServiceToken,
  type ServiceTokenClaims,
} from '../../shared/verify-service-token.ts'
import { findClient } from '../clients/store.ts'
import { readBearer } from '../http/bearer.ts'
import { keyStore } from '../keys/store.ts'
import type { AppEnv } from '../types.ts'

/**
 * Middleware for edge routes that service clients call (docs/protocol.md §8,
 * §11): `Authorization: Bearer <service token>`, verified with jose against
 * the edge's own published keys (`typ: at+jwt`, `aud: realtime-api`, `iss`,
 * the algorithm allow-list, a `kid`), from a client that exists and is not
 * disabled, holding `scope`. The verified claims are in `c.get('service')`.
 * A bad or missing token is 401 `unauthorized` with the Bearer challenge; a
 * good token without the scope is 403 `forbidden`.
 *
 * @param scope - the service scope the route needs
 * @example
 * ```ts
 * app.post('/auth/room-grants', requireServiceToken('grants'), jsonBody(RoomGrantBody), roomGrant)
 * ```
 */
export function requireServiceToken(scope: ServiceScope) {
  if (!(SERVICE_SCOPES as readonly string[]).includes(scope)) {
    throw new TypeError(`requireServiceToken: ${scope} is not a service scope`)
  }
  return createMiddleware<AppEnv & { Variables: { service: ServiceTokenClaims } }>(
    async function requireServiceToken(c, next) {
      const token = readBearer(c.req.header('authorization'))
      if (token === undefined) throw new AppError('unauthorized', 'service token missing')
      const now = Math.floor(c.get('now') / 1000)
      const claims = await verifyServiceToken(c.env, token, c.get('config').issuer, now)
      const client = await findClient(c.env.DB, claims.client_id)
      if (!client || client.disabled_at !== null)
        throw new AppError('unauthorized', 'service client unknown or disabled')
      if (!claims.scope.split(' ').includes(scope))
        throw new AppError('forbidden', `service token lacks scope ${scope}`)
      c.set('service', claims)
      await next()
    },
  )
}

/**
 * The shared service-token check (the one realtime's server API runs),
 * against the edge's own published keys; any token refusal is this route's
 * 401 `unauthorized`, with the check that failed kept as the cause.
 */
async function verifyServiceToken(
  env: Env,
  token: string,
  issuer: string,
  now: number,
): Promise<ServiceTokenClaims> {
  const keys = createLocalJWKSet({ keys: await keyStore(env).jwks(now) })
  try {
    const { claims } = await verifySharedServiceToken(token, keys, {
      issuer,
      currentDate: new Date(now * 1000),
    })
    return claims
  } catch (err) {
    if (isAppError(err) && err.code.startsWith('token_')) {
      throw new AppError('unauthorized', `service token refused (${err.code})`, { cause: err })
    }
    throw err
  }
}
