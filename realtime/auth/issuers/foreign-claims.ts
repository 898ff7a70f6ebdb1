import { createHash } from 'node:crypto'
import * as v from 'valibot'
import { AccessClaimsSchema, type AccessClaims } from '../../../shared/claims.ts'
import { ACCESS_TOKEN_TYP } from '../../../shared/constants.ts'
import { AppError } from '../../../shared/errors.ts'
import { checkJwtClaims, typIs } from '../jwt-claims.ts'
import { FOREIGN_NAME_MAX_CHARS } from '../../constants.ts'
import type { TrustedIssuer } from './schema.ts'

/** Another issuer's tokens need no `sid`: the connection's session is derived from `iss` and `jti` (docs/protocol.md §12). */
const REQUIRED_CLAIMS = ['sub', 'jti', 'iat', 'exp'] as const

const STRICT_TYP = typIs(ACCESS_TOKEN_TYP)
/** Without `requireTyp`: `at+jwt`, the generic `JWT`, or none; never a room grant or any other type. */
const LOOSE_TYP = typIs(ACCESS_TOKEN_TYP, 'jwt', undefined)

/**
 * Check another issuer's verified token and map it onto the access-token
 * shape the service works with (docs/protocol.md §12): the registered
 * claims as for the edge's tokens, `sid` = {@link foreignSessionId}, `scope` from the issuer's
 * scope claim (a list joined with spaces), `rooms` from its rooms claim (none
 * when it has no such claim), `name` from `name` or else `sub`.
 *
 * @param header - the verified protected header
 * @param payload - the verified claims set
 * @param issuer - the issuer's configuration
 * @param check - the tolerance and the clock
 * @throws AppError `token_invalid` | `token_expired`
 * @example
 * ```ts
 * const claims = checkForeignClaims(header, payload, issuer, { clockToleranceSeconds: 5, nowMs: Date.now() })
 * ```
 */
export function checkForeignClaims(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  issuer: TrustedIssuer,
  check: { clockToleranceSeconds: number; nowMs: number },
): AccessClaims {
  checkJwtClaims(header, payload, {
    ...check,
    issuer: issuer.issuer,
    audience: issuer.audience,
    typ: issuer.requireTyp ? STRICT_TYP : LOOSE_TYP,
    required: REQUIRED_CLAIMS,
  })
  const { name, sub, jti, iat, nbf } = payload
  const parsed = v.safeParse(AccessClaimsSchema, {
    ...payload,
    sid: typeof jti === 'string' ? foreignSessionId(issuer.issuer, jti) : jti,
    name: typeof name === 'string' && name.length <= FOREIGN_NAME_MAX_CHARS ? name : sub,
    nbf: nbf ?? iat,
    scope: scopeOf(payload[issuer.scopeClaim]),
    rooms: issuer.roomsClaim === undefined ? [] : roomsOf(payload[issuer.roomsClaim]),
  })
  if (!parsed.success) {
    throw new AppError('token_invalid', 'claims do not match the access-token schema')
  }
  return parsed.output
}

/**
 * The session id of another issuer's connection (docs/protocol.md §12,
 * v1.2): `x` and the first 22 characters of base64url(SHA-256(iss + " " +
 * jti)). Its 23 characters and leading `x` never match an edge `sid`, and
 * no issuer can choose a `jti` that lands on another connection's session.
 *
 * @param iss - the issuer, as configured (the token's `iss` equals it)
 * @param jti - the token's `jti`
 * @example
 * ```ts
 * foreignSessionId('https://tenant.example/', 'a1b2') // 'x' + 22 base64url characters
 * ```
 */
export function foreignSessionId(iss: string, jti: string): string {
  return `x${createHash('sha256').update(`${iss} ${jti}`).digest('base64url').slice(0, 22)}`
}

/** Space-separated scopes from a string, a list of strings, or nothing. */
function scopeOf(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value === 'string') return value
  if (Array.isArray(value) && value.every((s) => typeof s === 'string' && !s.includes(' '))) {
    return value.join(' ')
  }
  throw new AppError('token_invalid', 'scope claim is neither a string nor a list of strings')
}

/** Room patterns from a list, a space-separated string, or nothing. */
function roomsOf(value: unknown): unknown[] {
  if (value === undefined) return []
  if (typeof value === 'string') return value.split(' ').filter(Boolean)
  if (Array.isArray(value)) return value
  throw new AppError('token_invalid', 'rooms claim is neither a list nor a string')
}
