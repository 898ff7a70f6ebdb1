import {
  JWK_THUMBPRINT_PATTERN,
  ROOM_PATTERN,
  SCOPE_PATTERN,
  SUBJECT_PATTERN,
  type AccessClaims,
} from '../../shared/claims.ts'
import {
  ACCESS_TOKEN_TYP,
  MAX_ROOM_PATTERN_CHARS,
  MAX_SCOPE_CHARS,
} from '../../shared/constants.ts'
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
 * the same), then the access-token schema ({@link readAccessClaims}). Kept
 * equal to jose by the differential test.
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
  const claims = readAccessClaims(payload)
  if (!claims) throw new AppError('token_invalid', 'claims do not match the access-token schema')
  return claims
}

/**
 * `AccessClaimsSchema` (shared/claims.ts) written out by hand: the same
 * rules on the same keys, with the same output (those keys only, in the
 * schema's order), at a fraction of a generic parse's cost on every fresh
 * token. It shares the schema's patterns and bounds; a property test holds
 * it equal to the schema on mutated claims, and the differential test holds
 * the whole native path equal to jose with the schema.
 *
 * @param payload - a verified claims set (a JSON object)
 * @returns the claims, or undefined when any of them breaks the schema
 * @example
 * ```ts
 * readAccessClaims({ ...claims, sid: '' }) // undefined
 * ```
 */
export function readAccessClaims(payload: Record<string, unknown>): AccessClaims | undefined {
  const { iss, aud, sub, sid, jti, name, iat, nbf, exp, scope, rooms, cnf } = payload
  if (
    typeof iss !== 'string' ||
    !(typeof aud === 'string' || everyItem(aud, isString)) ||
    typeof sub !== 'string' ||
    !SUBJECT_PATTERN.test(sub) ||
    typeof sid !== 'string' ||
    sid.length === 0 ||
    typeof jti !== 'string' ||
    jti.length === 0 ||
    typeof name !== 'string' ||
    !isNumber(iat) ||
    !isNumber(nbf) ||
    !isNumber(exp) ||
    typeof scope !== 'string' ||
    scope.length > MAX_SCOPE_CHARS ||
    !SCOPE_PATTERN.test(scope) ||
    !everyItem(rooms, isRoomPattern) ||
    !(cnf === undefined || isConfirmation(cnf))
  ) {
    return undefined
  }
  // Fresh arrays, as the schema gives: the claims never share the payload's.
  const claims: AccessClaims = {
    iss,
    aud: typeof aud === 'string' ? aud : (aud as string[]).slice(),
    sub,
    sid,
    jti,
    name,
    iat,
    nbf,
    exp,
    scope,
    rooms: (rooms as string[]).slice(),
  }
  // Only `jkt` of `cnf`, as `v.object` keeps only its own keys (docs/protocol.md §15); a key
  // present but undefined (never so in JSON) is kept as the schema keeps it.
  if ('cnf' in payload)
    claims.cnf = cnf === undefined ? undefined : { jkt: (cnf as { jkt: string }).jkt }
  return claims
}

/** `cnf` as the schema has it: an object whose `jkt` is a SHA-256 thumbprint. */
const isConfirmation = (value: unknown): boolean =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { jkt?: unknown }).jkt === 'string' &&
  JWK_THUMBPRINT_PATTERN.test((value as { jkt: string }).jkt)

const isString = (value: unknown): value is string => typeof value === 'string'

/** `v.number()`: any number but NaN. */
const isNumber = (value: unknown): value is number =>
  typeof value === 'number' && !Number.isNaN(value)

/** `RoomPatternSchema`. */
const isRoomPattern = (value: unknown): boolean =>
  typeof value === 'string' &&
  value.length >= 1 &&
  value.length <= MAX_ROOM_PATTERN_CHARS &&
  ROOM_PATTERN.test(value)

/** An array whose every index (holes included, as the schema reads them) passes `item`. */
function everyItem(value: unknown, item: (x: unknown) => boolean): boolean {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (!item(value[i])) return false
  return true
}
