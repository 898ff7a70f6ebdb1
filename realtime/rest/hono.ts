import type { MiddlewareHandler } from 'hono'
import type { AccessClaims } from '../../shared/claims.ts'
import { createRestAuth, type RestAuthOptions } from './rest-auth.ts'

/** What {@link edgegateAuth} puts on the context: `c.get('edgegate')`. */
export type EdgegateVariables = { edgegate: AccessClaims }

/**
 * Hono middleware that admits a request only with a valid edgegate access token in
 * `Authorization: Bearer` (or, for a token bound to a key, `Authorization: DPoP` with a
 * `DPoP` proof of the request: RFC 9449 §7), checked as a socket's handshake is, and puts its claims at
 * `c.get('edgegate')`. A refusal is answered here (401 with `WWW-Authenticate`, 403,
 * 503) and the route never runs; any other error reaches your `onError`.
 *
 * @param options - `{ verifier: realtimeServer }` in the realtime process (same keys, same
 *   revocations), or `{ issuer, revocationFeed: { token } }` standalone; `scope`, `realm`
 * @example
 * ```ts
 * import { edgegateAuth } from 'edgegate/hono'
 *
 * app.use('/api/*', edgegateAuth({ verifier: realtime }))
 * app.get('/api/me', (c) => c.json({ sub: c.get('edgegate').sub }))
 * ```
 */
export function edgegateAuth(
  options: RestAuthOptions,
): MiddlewareHandler<{ Variables: EdgegateVariables }> & { close(): void } {
  const auth = createRestAuth(options)
  const handler: MiddlewareHandler<{ Variables: EdgegateVariables }> = async function edgegateAuth(
    c,
    next,
  ) {
    let claims: AccessClaims
    try {
      claims = await auth.authenticateRequest({
        method: c.req.method,
        url: c.req.url,
        headers: c.req.raw.headers,
      })
    } catch (err) {
      const refusal = auth.refuse(err)
      if (refusal.unexpected) throw err
      return c.json(refusal.body, refusal.status, refusal.headers)
    }
    c.set('edgegate', claims)
    return next()
  }
  return Object.assign(handler, { close: auth.close })
}

export type { RestAuthOptions, TokenCheck } from './rest-auth.ts'
