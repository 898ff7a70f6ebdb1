import * as v from 'valibot'
import { AccessClaimsSchema, type AccessClaims } from '../../shared/claims.ts'
import { ACCESS_TOKEN_TYP } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'

/** Claims every access token must carry, besides `iss` and `aud` (docs/protocol.md §5). */
const REQUIRED_CLAIMS = ['sub', 'sid', 'jti', 'iat', 'exp'] as const

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
  const { typ } = header
  if (typeof typ !== 'string' || normalizeTyp(typ) !== EXPECTED_TYP) {
    throw new AppError('token_invalid', '"typ" claim check failed')
  }
  for (const claim of ['iss', 'aud', ...REQUIRED_CLAIMS]) {
    if (!Object.hasOwn(payload, claim)) {
      throw new AppError('token_invalid', `"${claim}" claim check failed`)
    }
  }
  if (payload.iss !== check.issuer) throw new AppError('token_invalid', '"iss" claim check failed')
  if (!audienceMatches(payload.aud, check.audience)) {
    throw new AppError('token_invalid', '"aud" claim check failed')
  }
  const now = Math.floor(check.nowMs / 1000)
  const tolerance = check.clockToleranceSeconds
  if (payload.iat !== undefined && typeof payload.iat !== 'number') {
    throw new AppError('token_invalid', '"iat" claim check failed')
  }
  const { nbf, exp } = payload
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) {
    throw new AppError('token_invalid', '"nbf" claim check failed')
  }
  if (exp !== undefined && typeof exp !== 'number') {
    throw new AppError('token_invalid', '"exp" claim check failed')
  }
  if (typeof exp === 'number' && exp <= now - tolerance) {
    throw new AppError('token_expired', '"exp" claim check failed')
  }
  const parsed = v.safeParse(AccessClaimsSchema, payload)
  if (!parsed.success) {
    throw new AppError('token_invalid', 'claims do not match the access-token schema')
  }
  return parsed.output
}

/** jose's `typ` comparison: case-insensitive, `application/` implied when there is no slash. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}
const EXPECTED_TYP = normalizeTyp(ACCESS_TOKEN_TYP)

function audienceMatches(aud: unknown, expected: string | string[]): boolean {
  const accepted = typeof expected === 'string' ? [expected] : expected
  if (typeof aud === 'string') return accepted.includes(aud)
  return Array.isArray(aud) && accepted.some((a) => aud.includes(a))
}
