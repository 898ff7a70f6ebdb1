import type { Context } from 'hono'
import * as oauth from 'oauth4webapi'
import { JWK_THUMBPRINT_PATTERN } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { clientAddress, loginThrottle } from '../auth/throttle.ts'
import {
  FEDERATION_FLOW_TTL_SECONDS,
  FEDERATION_STARTS_PER_ADDRESS,
  FEDERATION_STARTS_WINDOW_SECONDS,
  RETURN_URL_MAX_CHARS,
} from '../constants.ts'
import type { AppEnv } from '../types.ts'
import type { FederationProvider } from './config.ts'
import { flowKey, sealFlow, setFlowCookie } from './flow-cookie.ts'
import { providerClient } from './provider.ts'

/**
 * The configured provider named by the path's `:id`.
 *
 * @throws AppError `not_found`
 */
export function providerOf<E extends AppEnv>(c: Context<E>): FederationProvider {
  const id = c.req.param('id')
  const provider = c.get('config').federation.providers.find((p: FederationProvider) => p.id === id)
  if (!provider) throw new AppError('not_found', 'no such federation provider')
  return provider
}

/**
 * `return_to` if it is one of `ALLOWED_RETURN_URLS`, compared as strings:
 * no prefix, no normalization, so no open redirect.
 *
 * @throws AppError `invalid_request`
 * @example
 * ```ts
 * const returnTo = allowedReturnTo(c, c.req.query('return_to'))
 * ```
 */
export function allowedReturnTo<E extends AppEnv>(c: Context<E>, raw: unknown): string {
  if (
    typeof raw !== 'string' ||
    raw.length > RETURN_URL_MAX_CHARS ||
    !c.get('config').federation.returnUrls.includes(raw)
  )
    throw new AppError('invalid_request', 'return_to: not one of ALLOWED_RETURN_URLS')
  return raw
}

/**
 * `dpop_jkt` (RFC 9449 §10): absent, or a base64url SHA-256 thumbprint (43 characters).
 *
 * @throws AppError `invalid_request`
 * @example
 * ```ts
 * readJkt(undefined) // undefined: no DPoP binding asked for
 * ```
 */
export function readJkt(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined
  if (!JWK_THUMBPRINT_PATTERN.test(raw))
    throw new AppError('invalid_request', 'dpop_jkt: a base64url SHA-256 thumbprint')
  return raw
}

/**
 * Take one start (or link request) from the client address's budget: each
 * one makes the edge call a provider and sign a cookie.
 *
 * @throws AppError `rate_limited`
 */
export async function takeStartBudget<E extends AppEnv>(c: Context<E>, now: number): Promise<void> {
  const verdict = await loginThrottle(c.env, clientAddress(c.req.raw)).take(
    'federation_start',
    FEDERATION_STARTS_PER_ADDRESS,
    FEDERATION_STARTS_WINDOW_SECONDS,
    now,
  )
  if (!verdict.allowed)
    throw new AppError('rate_limited', 'federated starts throttled for this address', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
}

/**
 * The callback URL registered at the provider: on the edge's issuer.
 *
 * @example
 * ```ts
 * redirectUri('https://auth.example.com', 'corp') // 'https://auth.example.com/auth/federated/corp/callback'
 * ```
 */
export function redirectUri(issuer: string, providerId: string): string {
  return `${issuer}/auth/federated/${providerId}/callback`
}

/**
 * Begin a flow: a fresh state, PKCE verifier and nonce, sealed into the
 * flow cookie (set on this response), and the provider's authorization URL
 * asking for a code with PKCE S256.
 *
 * @param c - the request context
 * @param provider - the provider
 * @param flow - where to return, and for a link the logged-in user, for DPoP the key thumbprint
 * @returns the authorization URL
 * @example
 * ```ts
 * return c.redirect(await beginFlow(c, provider, { returnTo }), 302)
 * ```
 */
export async function beginFlow<E extends AppEnv>(
  c: Context<E>,
  provider: FederationProvider,
  flow: { returnTo: string; linkSub?: string | undefined; jkt?: string | undefined },
): Promise<string> {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  const { as } = await providerClient(provider, { now: c.get('now') })
  const state = oauth.generateRandomState()
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const nonce = oauth.generateRandomNonce()
  const url = new URL(as.authorization_endpoint!)
  url.searchParams.set('client_id', provider.clientId)
  url.searchParams.set('redirect_uri', redirectUri(config.issuer, provider.id))
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('scope', provider.scopes.join(' '))
  url.searchParams.set('state', state)
  url.searchParams.set('nonce', nonce)
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier))
  url.searchParams.set('code_challenge_method', 'S256')
  const sealed = await sealFlow(
    {
      provider: provider.id,
      state,
      codeVerifier,
      nonce,
      returnTo: flow.returnTo,
      ...(flow.linkSub !== undefined && { linkSub: flow.linkSub }),
      ...(flow.jkt !== undefined && { jkt: flow.jkt }),
      exp: now + FEDERATION_FLOW_TTL_SECONDS,
    },
    await flowKey(c.env.KEY_ENCRYPTION_KEY),
  )
  setFlowCookie(c, sealed, FEDERATION_FLOW_TTL_SECONDS)
  return url.href
}

/**
 * `GET /auth/federated/:id/start?return_to=URL[&dpop_jkt=JKT]`: 302 to the
 * provider, with the flow cookie. 404 for an unknown provider, 400 for a
 * `return_to` outside ALLOWED_RETURN_URLS or a malformed `dpop_jkt`, 429
 * past the address's budget, 503 when the provider cannot be reached.
 */
export async function federatedStart<E extends AppEnv>(c: Context<E>) {
  const provider = providerOf(c)
  const returnTo = allowedReturnTo(c, c.req.query('return_to'))
  const jkt = readJkt(c.req.query('dpop_jkt'))
  await takeStartBudget(c, Math.floor(c.get('now') / 1000))
  const url = await beginFlow(c, provider, { returnTo, jkt })
  c.header('Cache-Control', 'no-store')
  c.header('Referrer-Policy', 'no-referrer')
  return c.redirect(url, 302)
}
