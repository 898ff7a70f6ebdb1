import type { Context } from 'hono'
import { JWKS_PATH, SIGNING_ALGORITHMS } from '../../shared/constants.ts'
import type { AppEnv } from '../types.ts'

/**
 * `GET /.well-known/openid-configuration`: where the keys are and how tokens
 * are signed, for verifiers that start from the issuer alone.
 */
export function discovery(c: Context<AppEnv>) {
  const { issuer, jwksMaxAgeSeconds, signingAlg } = c.get('config')
  c.header('Cache-Control', `public, max-age=${jwksMaxAgeSeconds}`)
  c.header('Access-Control-Allow-Origin', '*')
  return c.json({
    issuer,
    jwks_uri: `${issuer}${JWKS_PATH}`,
    token_endpoint: `${issuer}/auth/login`,
    revocation_endpoint: `${issuer}/auth/logout`,
    // Every algorithm a key in the JWKS may use: during a change of
    // SIGNING_ALG, retired keys of the old algorithm are still published.
    id_token_signing_alg_values_supported: [signingAlg, ...SIGNING_ALGORITHMS.filter((a) => a !== signingAlg)],
    token_endpoint_auth_methods_supported: ['none'],
    grant_types_supported: ['password', 'refresh_token'],
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    scopes_supported: ['chat:read', 'chat:write'],
    claims_supported: ['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'nbf', 'exp', 'name', 'scope', 'rooms'],
  })
}
