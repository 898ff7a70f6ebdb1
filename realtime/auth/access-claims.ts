import * as v from 'valibot'
import { AccessClaimsSchema, type AccessClaims } from '../../shared/claims.ts'
import { ACCESS_TOKEN_TYP } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'
import { checkJwtClaims, typIs } from './jwt-claims.ts'

/** Claims every access token must carry, besides `iss` and `aud` (docs/protocol.md §5). */
const REQUIRED_CLAIMS = ['sub', 'sid', 'jti', 'iat', 'exp'] as const

/** Only `at+jwt`: a room grant (`room+jwt`) is never an access token (docs/protocol.md §11). */
const ACCESS_TYP = typIs(ACCESS_TOKEN_TYP)

/** What {@link checkAccessClaims} checks against. */
export interface AccessClaimsCheck {
  issuer: string
  audience: string | string[]
  clockToleranceSeconds: number
  nowMs: number
}

/**
 * The checks `jose.jwtVerify` makes of the header `typ` and the claims, with
 * the options `verifyAccessToken` gives it, in jose's order (so the codes are
 * the same), then the access-token schema. Kept equal to jose by the
 * differential test.
 *
 * @param header - the verified protected header
 * @param payload - the verified claims set (a JSON object)
 * @param check - expected issuer and audience, the tolerance and the clock
 * @throws AppError `token_invalid` | `token_expired`
 * @example
 * ```ts
 * const claims = checkAccessClaims(jws.header, payload, { issuer, audience: 'realtime', clockToleranceSeconds: 5, nowMs: Date.now() })
 * ```
 */
export function checkAccessClaims(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  check: AccessClaimsCheck,
): AccessClaims {
  checkJwtClaims(header, payload, { ...check, typ: ACCESS_TYP, required: REQUIRED_CLAIMS })
  const parsed = v.safeParse(AccessClaimsSchema, payload)
  if (!parsed.success) {
    throw new AppError('token_invalid', 'claims do not match the access-token schema')
  }
  return parsed.output
}
