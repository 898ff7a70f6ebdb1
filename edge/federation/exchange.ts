import * as oauth from 'oauth4webapi'
import { AppError } from '../../shared/errors.ts'
import { FEDERATED_SUB_MAX_CHARS } from '../constants.ts'
import { log } from '../http/log.ts'
import type { FlowState } from './flow-cookie.ts'
import { reasonOf, type ProviderClient } from './provider.ts'

/** What a verified callback yields: who the provider says the user is. */
export interface UpstreamIdentity {
  /** The ID token's `sub`. */
  sub: string
  /** Every claim of the verified ID token (for a new account's username). */
  claims: Record<string, unknown>
}

/** Why a callback is refused, internally; the browser gets `invalid_grant` or `unavailable`. */
type ExchangeFailure = 'authorization_response' | 'token_response' | 'id_token' | 'unreachable'

/**
 * The callback's checks, in order (docs/protocol.md §14): the authorization
 * response (its `state` equals the flow's, no `error`, the `iss` parameter
 * where the provider sends one), the code exchange at the token endpoint
 * with the PKCE verifier, the ID token's claims (`iss`, `aud` = our client
 * id with `azp` where several, `exp`/`iat` within tolerance, `nonce` equal to
 * the flow's), then its signature by a key of the provider's JWKS (never an
 * HMAC algorithm).
 *
 * @param pc - the provider's client
 * @param flow - the flow from the cookie
 * @param callbackUrl - the URL the provider redirected to
 * @param redirectUri - the registered callback URL
 * @throws AppError `invalid_grant` (any check), `unavailable` (the provider could not be reached)
 * @example
 * ```ts
 * const { sub } = await exchangeCode(pc, flow, new URL(c.req.url), redirectUri(issuer, 'corp'))
 * ```
 */
export async function exchangeCode(
  pc: ProviderClient,
  flow: FlowState,
  callbackUrl: URL,
  redirectUri: string,
): Promise<UpstreamIdentity> {
  const { as, client, auth, provider } = pc
  let params: URLSearchParams
  try {
    params = oauth.validateAuthResponse(as, client, callbackUrl, flow.state)
  } catch (err) {
    throw refused('authorization_response', provider.id, err)
  }
  let response: Response
  try {
    response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      auth,
      params,
      redirectUri,
      flow.codeVerifier,
      pc.requestOptions(),
    )
  } catch (err) {
    throw refused('unreachable', provider.id, err)
  }
  let claims: oauth.IDToken | undefined
  try {
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: flow.nonce,
      requireIdToken: true,
    })
    claims = oauth.getValidatedIdTokenClaims(result)
  } catch (err) {
    throw refused(isNetworkError(err) ? 'unreachable' : 'token_response', provider.id, err)
  }
  try {
    await oauth.validateApplicationLevelSignature(as, response, pc.requestOptions())
  } catch (err) {
    throw refused(isNetworkError(err) ? 'unreachable' : 'id_token', provider.id, err)
  }
  const sub = claims?.sub
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > FEDERATED_SUB_MAX_CHARS)
    throw refused('id_token', provider.id, new Error('sub missing or too long'))
  return { sub, claims: { ...claims } }
}

function isNetworkError(err: unknown): boolean {
  return (
    err instanceof TypeError ||
    (err instanceof DOMException && (err.name === 'TimeoutError' || err.name === 'AbortError'))
  )
}

/** The one place a callback failure becomes its error: logged with the library's reason, generic on the wire. */
function refused(failure: ExchangeFailure, provider: string, err: unknown): AppError {
  switch (failure) {
    case 'unreachable':
      log('warn', 'federated callback: provider unreachable', { provider, reason: reasonOf(err) })
      return new AppError('unavailable', 'the identity provider could not be reached')
    case 'authorization_response':
    case 'token_response':
    case 'id_token':
      log('warn', 'federated callback refused', { provider, failure, reason: reasonOf(err) })
      return new AppError('invalid_grant', `federated login refused: ${failure}`)
    default: {
      const unhandled: never = failure
      return unhandled
    }
  }
}
