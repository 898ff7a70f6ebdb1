import type { Context } from 'hono'
import type { ServiceTokenResponse } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { parseServiceScope } from '../clients/scope.ts'
import { CLIENT_ID_MAX_CHARS } from '../constants.ts'
import type { FormParams } from '../http/form-body.ts'
import { getSigningKey } from '../keys/signer.ts'
import { mintServiceToken } from '../keys/service-tokens.ts'
import type { AppEnv } from '../types.ts'
import { authenticateClient, readClientCredentials } from './client-auth.ts'
import { clientAddress, loginThrottle } from './throttle.ts'

/**
 * `POST /auth/token`, the client-credentials grant (RFC 6749 §4.4,
 * docs/protocol.md §8). Failed client authentications are throttled like
 * logins, per (client_id, address) and per address, in the login throttle
 * of the caller's address: keyed by address, so a stranger elsewhere cannot
 * lock a service out by guessing at its id.
 */
export async function clientCredentialsToken<E extends AppEnv>(c: Context<E>, form: FormParams) {
  const grantType = form.get('grant_type')
  if (grantType === undefined) throw new AppError('invalid_request', 'grant_type: required')
  if (grantType !== 'client_credentials')
    throw new AppError('unsupported_grant_type', 'grant_type not supported')
  const credentials = readClientCredentials(c.req.header('authorization'), form)

  const now = Math.floor(c.get('now') / 1000)
  // Counters live in the caller's address's object: should a login name ever equal this
  // key, the two share a counter only for that one address. An over-long id (never a
  // client's) gets one shared key, so the object holds nothing larger than an id.
  const id =
    credentials.clientId.length <= CLIENT_ID_MAX_CHARS ? credentials.clientId : '(too long)'
  const throttleKey = `client:${id}`
  const throttle = loginThrottle(c.env, clientAddress(c.req.raw))
  const verdict = await throttle.attempt(throttleKey, now)
  if (!verdict.allowed) {
    throw new AppError('rate_limited', 'token endpoint throttled', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
  }
  const client = await authenticateClient(c.env.DB, credentials)
  await throttle.succeed(throttleKey, now)

  const held = parseServiceScope(client.scope) ?? []
  const asked = form.get('scope')
  const wanted = asked === undefined ? held : parseServiceScope(asked)
  if (!wanted || wanted.length === 0 || !wanted.every((s) => held.includes(s))) {
    throw new AppError('invalid_scope', 'scope malformed or beyond the client')
  }
  const scope = wanted.join(' ')

  const config = c.get('config')
  const signer = await getSigningKey(c.env, now)
  const token = await mintServiceToken(
    signer,
    { clientId: client.client_id, scope },
    { issuer: config.issuer, ttlSeconds: config.serviceTokenTtlSeconds, now },
  )
  const body: ServiceTokenResponse = {
    access_token: token,
    token_type: 'Bearer',
    expires_in: config.serviceTokenTtlSeconds,
    scope,
  }
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  return c.json(body, 200)
}
