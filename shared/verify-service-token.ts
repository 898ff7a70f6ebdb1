import type { JWTVerifyGetKey } from 'jose'
import * as v from 'valibot'
import { ServiceClaimsSchema } from './claims.ts'
import { SERVICE_AUDIENCE, SIGNING_ALGORITHMS } from './constants.ts'
import { AppError } from './errors.ts'
import { verifyJwt } from './verify-access-token.ts'

/**
 * The service-token claims the server API relies on (docs/protocol.md §8):
 * the edge's schema, except that `nbf`, which the contract does not list
 * for service tokens, is checked only when present.
 */
const ServerApiClaimsSchema = v.object({
  ...ServiceClaimsSchema.entries,
  nbf: v.optional(v.number()),
})

/** The claims of a verified service token. */
export type ServiceTokenClaims = v.InferOutput<typeof ServerApiClaimsSchema>

/** Options of {@link verifyServiceToken}. */
export interface VerifyServiceTokenOptions {
  /** Expected `iss`. */
  issuer: string
  /** Accepted `aud`. @default 'realtime-api' */
  audience?: string | string[]
  /** Seconds of leeway on `exp`/`nbf`. @default 5 */
  clockToleranceSeconds?: number
  /** The clock. @default the current time */
  currentDate?: Date
}

/**
 * Verify a service token (docs/protocol.md §8) with the handshake's checks
 * (size, compact JWS, string `kid`, the contract's asymmetric algorithms,
 * `typ: at+jwt`, `iss`, `exp`/`nbf`) but the server API's audience and
 * claims: `sub`, `client_id` (equal to `sub`), `jti`, `iat`, `exp`; no `sid`.
 * A user's access token (`aud: realtime`) therefore fails here, and a
 * service token fails the handshake.
 *
 * @param token - the compact JWS
 * @param getKey - the edge's key set
 * @param options - {@link VerifyServiceTokenOptions}
 * @throws AppError `token_malformed` | `token_invalid` | `token_expired` | `unavailable`
 * @example
 * ```ts
 * const { claims } = await verifyServiceToken(token, keySet.getKey, { issuer })
 * ```
 */
export async function verifyServiceToken(
  token: string,
  getKey: JWTVerifyGetKey,
  options: VerifyServiceTokenOptions,
): Promise<{ claims: ServiceTokenClaims; kid: string }> {
  const verified = await verifyJwt(token, getKey, ServerApiClaimsSchema, 'service-token', {
    ...options,
    audience: options.audience ?? SERVICE_AUDIENCE,
    algorithms: SIGNING_ALGORITHMS,
    requiredClaims: ['sub', 'client_id', 'jti', 'iat', 'exp'],
  })
  if (verified.claims.client_id !== verified.claims.sub)
    throw new AppError('token_invalid', '"client_id" differs from "sub"')
  return verified
}
