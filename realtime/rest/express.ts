import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AccessClaims } from '../../shared/claims.ts'
import { createRestAuth, type RestAuthOptions } from './rest-auth.ts'

/** A request {@link edgegateAuth} admitted: the token's claims at `req.auth` (as express-jwt). */
export type AuthenticatedRequest = IncomingMessage & { auth?: AccessClaims }

/** Connect-style middleware: Express, Connect, or a plain `node:http` handler. */
export type NodeMiddleware = ((
  req: AuthenticatedRequest,
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void) & { close(): void }

/**
 * Express (or Connect) middleware that admits a request only with a valid edgegate
 * access token in `Authorization: Bearer` (or, for a token bound to a key,
 * `Authorization: DPoP` with a `DPoP` proof of the request: RFC 9449 §7), checked as a socket's handshake is, and puts
 * its claims at `req.auth`. A refusal is answered here (401 with `WWW-Authenticate`, 403,
 * 503) and the route never runs; any other error goes to `next(err)`.
 *
 * @param options - `{ verifier: realtimeServer }` in the realtime process (same keys, same
 *   revocations), or `{ issuer, revocationFeed: { token } }` standalone; `scope`, `realm`
 * @example
 * ```ts
 * import { edgegateAuth } from 'edgegate/express'
 *
 * app.use('/api', edgegateAuth({ verifier: realtime }))
 * app.get('/api/me', (req, res) => res.json({ sub: req.auth.sub }))
 * ```
 */
export function edgegateAuth(options: RestAuthOptions): NodeMiddleware {
  const auth = createRestAuth(options)
  const middleware = function edgegateAuth(
    req: AuthenticatedRequest,
    res: ServerResponse,
    next: (err?: unknown) => void,
  ): void {
    auth
      .authenticateRequest({
        method: req.method ?? 'GET',
        url: requestUrl(req),
        headers: req.headers,
      })
      .then(
        (claims) => {
          req.auth = claims
          next()
        },
        (err: unknown) => {
          const refusal = auth.refuse(err)
          if (refusal.unexpected) return next(err)
          res
            .writeHead(refusal.status, {
              ...refusal.headers,
              'Content-Type': 'application/json; charset=utf-8',
            })
            .end(JSON.stringify(refusal.body))
        },
      )
  }
  return Object.assign(middleware, { close: auth.close })
}

/**
 * The absolute URL of a Node request, for a DPoP proof's `htu`: its `Host` over https
 * when the socket is TLS, else http. Behind a proxy, set the middleware's `origin`.
 */
function requestUrl(req: IncomingMessage): string {
  const tls = (req.socket as { encrypted?: boolean } | undefined)?.encrypted === true
  const host = req.headers.host ?? 'localhost'
  // Express rewrites req.url under a mount path; originalUrl is what the client sent.
  const path = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/'
  return `${tls ? 'https' : 'http'}://${host}${path}`
}

export type { RestAuthOptions, TokenCheck } from './rest-auth.ts'
