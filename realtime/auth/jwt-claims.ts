import { ROOM_GRANT_TYP } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'

/** The registered-claim checks every verified JWT here goes through. */
export interface JwtClaimsCheck {
  issuer: string
  audience: string | readonly string[]
  clockToleranceSeconds: number
  nowMs: number
  /** Whether the header `typ` is acceptable (see {@link typIs}). */
  typ: (typ: unknown) => boolean
  /** Claims that must be present besides `iss` and `aud`. */
  required: readonly string[]
}

/**
 * The checks `jose.jwtVerify` makes of the header `typ` and the registered
 * claims, in jose's order (so the codes are the same): `typ`, presence of
 * `iss`, `aud` and the required claims, `iss`, `aud`, `iat`, `nbf`, `exp`.
 * A room grant is never accepted where its `typ` is not asked for, whatever
 * `typ` predicate the caller gives (docs/protocol.md §11).
 *
 * @param header - the verified protected header
 * @param payload - the verified claims set (a JSON object)
 * @param check - {@link JwtClaimsCheck}
 * @throws AppError `token_invalid` | `token_expired`
 * @example
 * ```ts
 * checkJwtClaims(jws.header, payload, { issuer, audience: 'realtime', clockToleranceSeconds: 5,
 *   nowMs: Date.now(), typ: typIs('at+jwt'), required: ['sub', 'jti', 'iat', 'exp'] })
 * ```
 */
export function checkJwtClaims(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  check: JwtClaimsCheck,
): void {
  const { typ } = header
  if (!check.typ(typ)) throw new AppError('token_invalid', '"typ" claim check failed')
  requirePresent(payload, 'iss')
  requirePresent(payload, 'aud')
  for (const claim of check.required) requirePresent(payload, claim)
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
}

/** jose's presence check of one claim. */
function requirePresent(payload: Record<string, unknown>, claim: string): void {
  if (!Object.hasOwn(payload, claim)) {
    throw new AppError('token_invalid', `"${claim}" claim check failed`)
  }
}

/**
 * A `typ` predicate: the header's `typ` is one of `accepted`, compared as
 * jose does (case-insensitive, `application/` implied without a slash).
 * `undefined` in `accepted` admits a header without `typ`. A room grant's
 * `typ` is refused unless it is asked for by name.
 *
 * @param accepted - the acceptable values
 * @example
 * ```ts
 * typIs('at+jwt') // access tokens only
 * typIs('at+jwt', 'jwt', undefined) // another issuer that does not type its tokens
 * ```
 */
export function typIs(...accepted: (string | undefined)[]): (typ: unknown) => boolean {
  const names = new Set(accepted.map((a) => (a === undefined ? undefined : normalizeTyp(a))))
  // The values as written: a token typed exactly so needs no normalizing (nor a string per call).
  const exact = new Set(accepted.filter((a) => a !== undefined))
  return (typ) => {
    if (typ === undefined) return names.has(undefined)
    if (exact.has(typ as string)) return true
    if (typeof typ !== 'string') return false
    const name = normalizeTyp(typ)
    if (name === GRANT_TYP && !names.has(GRANT_TYP)) return false
    return names.has(name)
  }
}

/** jose's `typ` comparison: case-insensitive, `application/` implied when there is no slash. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}
const GRANT_TYP = normalizeTyp(ROOM_GRANT_TYP)

function audienceMatches(aud: unknown, expected: string | readonly string[]): boolean {
  const accepted = typeof expected === 'string' ? [expected] : expected
  if (typeof aud === 'string') return accepted.includes(aud)
  return Array.isArray(aud) && accepted.some((a) => aud.includes(a))
}
