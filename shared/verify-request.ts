import { DPOP_ALGORITHMS } from './constants.ts'
import { verifyDpopProof } from './dpop/verify-proof.ts'
import type { DpopReplayCache } from './dpop/replay-cache.ts'
import { AppError, isAppError } from './errors.ts'
import type { VerifiedAccessToken } from './verify-access-token.ts'

/** The parts of an HTTP request the resource-server check reads (a fetch `Request` fits). */
export interface HttpRequestLike {
  /** The method, any case. */
  method: string
  /** The absolute URL the client sent the request to (query and fragment are ignored). */
  url: string | URL
  /** A fetch `Headers`, or Node's `IncomingHttpHeaders` (lower-case names). */
  headers: Headers | Record<string, string | string[] | undefined>
}

/** Server nonces for proofs (RFC 9449 §9): what to hand out and what to accept. */
export interface DpopNonceSource {
  /** The nonce a client should put in its next proof. */
  current(): string
  /** Whether a proof's `nonce` is one this server accepts now. */
  accept(nonce: string | undefined): boolean
}

/** Options of {@link verifyTokenRequest}. */
export interface TokenRequestOptions {
  /** Where proofs' `jti`s are remembered: share one across every instance that accepts the same URLs. */
  replayCache: DpopReplayCache
  /** Ask for server nonces. @default undefined (none) */
  nonce?: DpopNonceSource | undefined
  /** The clock, ms. @default Date.now */
  now?: (() => number) | undefined
}

/** A token request that passed: the token's claims and key, and the proof's key when bound. */
export type VerifiedTokenRequest = VerifiedAccessToken & {
  /** The thumbprint the token is bound to (`cnf.jkt`), which the request's proof was signed with. */
  jkt?: string
}

/**
 * A refusal asking for a server nonce: `dpop_nonce_required` carrying the
 * nonce to retry with (a `DPoP-Nonce` header over HTTP, `data.nonce` on a socket).
 */
export class DpopNonceError extends AppError<'dpop_nonce_required'> {
  /** The nonce to put in the retried proof. */
  readonly nonce: string

  /**
   * @param nonce - the server's current nonce
   * @param message - the failed check
   */
  constructor(nonce: string, message: string) {
    super('dpop_nonce_required', message)
    this.nonce = nonce
  }
}

/** The `WWW-Authenticate` `algs` of a DPoP challenge (RFC 9449 §7.1). */
export const DPOP_CHALLENGE_ALGS = DPOP_ALGORITHMS.join(' ')

/**
 * The resource-server check of RFC 9449 §7 (docs/protocol.md §15) around any
 * access-token verification: read `Authorization: Bearer|DPoP <token>`, verify
 * the token with `verify`, then, for a token bound to a key (`cnf.jkt`),
 * require the `DPoP` scheme and one `DPoP` proof for this request (`htm`,
 * `htu`, `ath` of this token, `iat`, its key the bound key) whose `jti` is new
 * to `replayCache`. A bound token presented as `Bearer` is `dpop_required`
 * (the proof is what makes it usable); an unbound token presented as `DPoP`
 * is `dpop_invalid` (the client believes in a binding that does not exist).
 *
 * @param request - {@link HttpRequestLike}
 * @param verify - the token check (a `createVerifier`'s `verify`, a realtime server's)
 * @param options - {@link TokenRequestOptions}
 * @throws AppError `token_*` from `verify` or for a malformed `Authorization`, `dpop_required`,
 *   `dpop_invalid`, {@link DpopNonceError}, `unavailable` (replay cache full)
 * @example
 * ```ts
 * const { claims } = await verifyTokenRequest(request, (t) => verifier.verify(t), {
 *   replayCache: createMemoryReplayCache(),
 * })
 * ```
 */
export async function verifyTokenRequest(
  request: HttpRequestLike,
  verify: (token: string) => Promise<VerifiedAccessToken>,
  options: TokenRequestOptions,
): Promise<VerifiedTokenRequest> {
  const authorization = headerOf(request.headers, 'authorization')
  if (authorization === undefined) throw new AppError('token_missing', 'no Authorization header')
  if (Array.isArray(authorization))
    throw new AppError('token_malformed', 'more than one Authorization header')
  const match = /^(Bearer|DPoP)[ ]+([^\s,]+)[ ]*$/i.exec(authorization)
  if (!match) throw new AppError('token_malformed', 'Authorization is not Bearer or DPoP')
  const scheme = match[1]!.toLowerCase() as 'bearer' | 'dpop'
  const token = match[2]!
  const verified = await verify(token)
  const jkt = verified.claims.cnf?.jkt
  if (jkt === undefined) {
    if (scheme === 'dpop') throw new AppError('dpop_invalid', 'an unbound token presented as DPoP')
    return verified
  }
  if (scheme !== 'dpop') throw new AppError('dpop_required', 'a bound token presented as Bearer')
  const proof = headerOf(request.headers, 'dpop')
  if (proof === undefined || proof === '')
    throw new AppError('dpop_required', 'a bound token without a DPoP proof')
  if (Array.isArray(proof) || proof.includes(','))
    throw new AppError('dpop_invalid', 'more than one DPoP header')
  const now = (options.now ?? Date.now)()
  const nonce = options.nonce
  let checked
  try {
    checked = await verifyDpopProof(
      proof,
      {
        htm: request.method.toUpperCase(),
        htu: request.url,
        accessToken: token,
        jkt,
        ...(nonce && { acceptNonce: (n: string | undefined) => nonce.accept(n) }),
      },
      { now },
    )
  } catch (err) {
    if (nonce && isAppError(err) && err.code === 'dpop_nonce_required')
      throw new DpopNonceError(nonce.current(), err.message)
    throw err
  }
  if (!(await options.replayCache.claim(checked.jti)))
    throw new AppError('dpop_invalid', 'jti: proof replayed')
  return { ...verified, jkt }
}

function headerOf(
  headers: HttpRequestLike['headers'],
  name: string,
): string | string[] | undefined {
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined
  }
  return (headers as Record<string, string | string[] | undefined>)[name]
}
