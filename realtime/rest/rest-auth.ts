import type { AccessClaims } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import {
  createVerifier,
  type VerifiedAccessToken,
  type VerifierOptions,
} from '../../shared/verifier.ts'
import type { RevocableIdentity } from '../identity.ts'
import { createMemoryReplayCache, type DpopReplayCache } from '../../shared/dpop/index.ts'
import {
  verifyTokenRequest,
  type DpopNonceSource,
  type HttpRequestLike,
} from '../../shared/verify-request.ts'
import { apiErrorResponse, type ApiErrorResponse } from '../api/http-errors.ts'
import { extractToken } from '../admission/token-source.ts'
import { DEFAULT_REST_REALM } from '../constants.ts'
import { revokedBy } from '../revocations/check.ts'
import { FeedPoller } from '../revocations/feed-poller.ts'
import { RevocationSet } from '../revocations/revocation-set.ts'

/** Anything that verifies an edgegate access token: a realtime server, or a `createVerifier`. */
export interface TokenCheck {
  verify(token: string): Promise<{ claims: AccessClaims }>
}

/** Options of the REST middleware (`edgegate/hono`, `edgegate/express`). */
export type RestAuthOptions = (
  | {
      /**
       * The realtime server in this process (its key set and revocation set: a revoked
       * session is refused on REST and sockets alike), or a verifier of your own.
       */
      verifier: TokenCheck
    }
  | (VerifierOptions & {
      /**
       * Standalone: pull the edge's revocation feed (docs/protocol.md §6) into a set of
       * this middleware's own; requests are refused `unavailable` until its first pass
       * reaches the end of the feed. Without it, only `isRevoked` applies.
       */
      revocationFeed?: { token: string; edgeUrl?: string; intervalMs?: number }
    })
) & {
  /** A scope every request's token must hold (403 `forbidden` otherwise). */
  scope?: string
  /** The `realm` of the `WWW-Authenticate` challenge. @default 'api' */
  realm?: string
  /**
   * (v1.2) Where DPoP proofs' `jti`s are remembered (docs/dpop.md): share one across
   * every instance serving the same URLs. @default a bounded memory cache of this
   * middleware (100,000 `jti`s)
   */
  dpopReplayCache?: DpopReplayCache
  /** (v1.2) Ask DPoP clients for server nonces (401 `use_dpop_nonce` with `DPoP-Nonce`). */
  dpopNonce?: DpopNonceSource
  /**
   * (v1.2) The public origin clients call this service at (`https://api.example.com`), for
   * a proof's `htu` behind a proxy. @default the request's own URL (Hono), or its `Host`
   * header over http or https as the socket is (Express)
   */
  origin?: string
}

/** The framework-neutral core of the REST middleware. */
export interface RestAuth {
  /** The verified claims of an `Authorization` header's bearer token. @throws AppError */
  authenticate(authorization: string | undefined): Promise<AccessClaims>
  /**
   * (v1.2) The verified claims of a request's token: Bearer, or DPoP with its proof
   * (RFC 9449 §7; docs/protocol.md §15). @throws AppError
   */
  authenticateRequest(request: HttpRequestLike): Promise<AccessClaims>
  /** The response for a refusal; `unexpected` errors are the caller's to rethrow (500). */
  refuse(err: unknown): ApiErrorResponse & { unexpected: boolean }
  /** Stop the standalone revocation feed, if any. */
  close(): void
}

/**
 * The check behind `edgegate/hono` and `edgegate/express`: the bearer token read as the
 * handshake reads it, verified like a socket's (signature against the edge's keys, `typ`,
 * `iss`, `aud`, time, revocations), an optional scope, and one mapping of every refusal
 * to its HTTP answer (the server API's: 401 with `WWW-Authenticate: Bearer`, 403, 503).
 *
 * @param options - {@link RestAuthOptions}
 * @throws TypeError when neither `verifier` nor `issuer` is given
 * @example
 * ```ts
 * const auth = createRestAuth({ verifier: realtime })
 * const claims = await auth.authenticate(req.headers.authorization)
 * ```
 */
export function createRestAuth(options: RestAuthOptions): RestAuth {
  const { check, feed } = tokenCheck(options)
  const realm = options.realm ?? DEFAULT_REST_REALM
  const replayCache = options.dpopReplayCache ?? createMemoryReplayCache()
  const origin = options.origin?.replace(/\/+$/, '')
  const scoped = (claims: AccessClaims) => {
    if (options.scope && !claims.scope.split(' ').includes(options.scope))
      throw new AppError('forbidden', 'scope not granted')
    return claims
  }
  return {
    async authenticate(authorization) {
      const token = extractToken({ auth: undefined, headers: { authorization }, query: {} })
      if (feed && !feed.synced()) throw new AppError('unavailable', 'revocation feed not read yet')
      const { claims } = await check.verify(token)
      // A header alone carries no proof: a token bound to a key needs authenticateRequest.
      if (claims.cnf) throw new AppError('dpop_required', 'a bound token without a DPoP proof')
      return scoped(claims)
    },
    async authenticateRequest(request) {
      if (feed && !feed.synced()) throw new AppError('unavailable', 'revocation feed not read yet')
      const url = origin ? `${origin}${new URL(request.url).pathname}` : request.url
      const { claims } = await verifyTokenRequest(
        { ...request, url },
        async (token) => ({ kid: '', ...(await check.verify(token)) }),
        { replayCache, nonce: options.dpopNonce },
      )
      return scoped(claims)
    },
    refuse: (err) => apiErrorResponse(err, options.scope ?? '', realm),
    close: () => feed?.stop(),
  }
}

/** The verifier the options name, or a standalone one fed by the revocation feed. */
function tokenCheck(options: RestAuthOptions): { check: TokenCheck; feed?: FeedPoller } {
  if ('verifier' in options) {
    if (typeof options.verifier?.verify !== 'function')
      throw new TypeError('edgegate middleware: verifier must have verify(token)')
    return { check: options.verifier }
  }
  if (!options.issuer) throw new TypeError('edgegate middleware: verifier or issuer is required')
  const { revocationFeed, ...verifierOptions } = options
  if (!revocationFeed) return { check: createVerifier(verifierOptions) }
  const revocations = new RevocationSet()
  const now = options.keySet?.now ?? Date.now
  const feed = new FeedPoller({
    edgeUrl: revocationFeed.edgeUrl ?? options.issuer,
    feedToken: revocationFeed.token,
    ...(revocationFeed.intervalMs !== undefined && { intervalMs: revocationFeed.intervalMs }),
    ...(options.keySet?.fetch && { fetch: options.keySet.fetch }),
    apply: (events) => {
      for (const event of events) revocations.add(event, now() / 1000)
    },
  })
  feed.start()
  const check = createVerifier({
    ...verifierOptions,
    // The one check (revocations/check.ts), as the handshake makes it.
    isRevoked: async (verified) =>
      revokedBy(revocations, restIdentity(verified), now() / 1000) !== undefined ||
      ((await options.isRevoked?.(verified)) ?? false),
  })
  return { check, feed }
}

/**
 * A verified REST token as the revocation check reads it. The standalone
 * verifier takes `issuer`'s tokens only, and its feed is that issuer's (the
 * edge's): an edge identity, with no `issuer`.
 */
function restIdentity({ claims, kid }: VerifiedAccessToken): RevocableIdentity {
  return { auth: { sub: claims.sub, sid: claims.sid, kid }, iat: claims.iat }
}
