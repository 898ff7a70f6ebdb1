import { jwtVerify, type JWTVerifyGetKey } from 'jose'
import * as v from 'valibot'
import { ScopeSchema } from './claims.ts'
import { ACCESS_TOKEN_TYP, CLOCK_TOLERANCE_SECONDS, SIGNING_ALGORITHMS } from './constants.ts'
import { AppError } from './errors.ts'
import { mapJoseError, readKid } from './verify-access-token.ts'

/** Audience of service tokens: the realtime server API's (docs/protocol.md §8). */
export const SERVICE_TOKEN_AUDIENCE = 'realtime-api'

/**
 * The claims of a service token (docs/protocol.md §8) the server API relies
 * on. It names a service client, never a user session: no `sid`.
 */
export const ServiceTokenClaimsSchema = v.object({
  iss: v.string(),
  aud: v.union([v.string(), v.array(v.string())]),
  sub: v.pipe(v.string(), v.minLength(1)),
  client_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  jti: v.pipe(v.string(), v.minLength(1)),
  iat: v.number(),
  exp: v.number(),
  scope: ScopeSchema,
})

/** The claims of a service token. */
export type ServiceTokenClaims = v.InferOutput<typeof ServiceTokenClaimsSchema>

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
  const kid = readKid(token)
  let payload: unknown
  try {
    ;({ payload } = await jwtVerify(token, getKey, {
      algorithms: [...SIGNING_ALGORITHMS],
      typ: ACCESS_TOKEN_TYP,
      issuer: options.issuer,
      audience: options.audience ?? SERVICE_TOKEN_AUDIENCE,
      requiredClaims: ['sub', 'client_id', 'jti', 'iat', 'exp'],
      clockTolerance: options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS,
      ...(options.currentDate && { currentDate: options.currentDate }),
    }))
  } catch (err) {
    throw mapJoseError(err)
  }
  const parsed = v.safeParse(ServiceTokenClaimsSchema, payload)
  if (!parsed.success)
    throw new AppError('token_invalid', 'claims do not match the service-token schema')
  if (parsed.output.client_id !== parsed.output.sub)
    throw new AppError('token_invalid', '"client_id" differs from "sub"')
  return { claims: parsed.output, kid }
}
