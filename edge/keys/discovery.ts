import type { Context } from 'hono'
import {
  DPOP_ALGORITHMS,
  JWKS_PATH,
  SERVICE_SCOPES,
  SIGNING_ALGORITHMS,
} from '../../shared/constants.ts'
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
    // The OAuth 2.0 token endpoint: client credentials for services (docs/protocol.md §8).
    // Users log in at /auth/login, which speaks JSON, not RFC 6749.
    token_endpoint: `${issuer}/auth/token`,
    revocation_endpoint: `${issuer}/auth/logout`,
    // Every algorithm a key in the JWKS may use: during a change of
    // SIGNING_ALG, retired keys of the old algorithm are still published.
    id_token_signing_alg_values_supported: [
      signingAlg,
      ...SIGNING_ALGORITHMS.filter((a) => a !== signingAlg),
    ],
    // DPoP proofs the token-issuing routes accept (RFC 9449 §5.1; docs/protocol.md §15).
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    grant_types_supported: ['client_credentials'],
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    scopes_supported: ['chat:read', 'chat:write', ...SERVICE_SCOPES],
    claims_supported: [
      'iss',
      'aud',
      'sub',
      'sid',
      'jti',
      'iat',
      'nbf',
      'exp',
      'name',
      'scope',
      'rooms',
      'client_id',
      'cnf',
    ],
  })
}
