import { decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose'
import * as v from 'valibot'
import { AccessClaimsSchema, type AccessClaims } from './claims.ts'
import {
  ACCESS_TOKEN_TYP,
  CLOCK_TOLERANCE_SECONDS,
  MAX_TOKEN_BYTES,
  SIGNING_ALGORITHMS,
} from './constants.ts'
import { AppError } from './errors.ts'

/** Options of {@link verifyAccessToken}. */
export interface VerifyAccessTokenOptions {
  /** Expected `iss`. */
  issuer: string
  /** Accepted `aud` value(s). */
  audience: string | string[]
  /** Allowed `alg`s. @default ['ES256', 'EdDSA', 'RS256'] — never `none` or an HMAC */
  algorithms?: readonly string[]
  /** Seconds of leeway on `exp`/`nbf`. @default 5 */
  clockToleranceSeconds?: number
  /** The clock. @default the current time */
  currentDate?: Date
}

/** A verified access token: its claims and the key that signed it. */
export interface VerifiedAccessToken {
  claims: AccessClaims
  kid: string
}

/**
 * Verify an edgegate access token (docs/protocol.md §5 checks): size, compact-JWS
 * shape, a string `kid`, signature by a key from `getKey` under an allowed
 * `alg`, `typ: at+jwt`, `iss`, `aud`, `exp`/`nbf` within the tolerance, and
 * the required claims with their types. Headers such as `jku`, `x5u` and
 * `jwk` are never consulted: `getKey` chooses the key from the configured
 * key set by `kid` alone.
 *
 * @param token - the compact JWS
 * @param getKey - a jose key resolver (`createLocalJWKSet`, or the realtime key-set client)
 * @param options - {@link VerifyAccessTokenOptions}
 * @throws AppError `token_malformed` | `token_invalid` | `token_expired` | `unavailable`
 * @example
 * ```ts
 * const { claims } = await verifyAccessToken(token, createLocalJWKSet(jwks), { issuer, audience: 'realtime' })
 * ```
 */
export async function verifyAccessToken(
  token: string,
  getKey: JWTVerifyGetKey,
  options: VerifyAccessTokenOptions,
): Promise<VerifiedAccessToken> {
  return verifyJwt(token, getKey, AccessClaimsSchema, 'access-token', {
    ...options,
    requiredClaims: ['sub', 'sid', 'jti', 'iat', 'exp'],
  })
}

/** What {@link verifyJwt} checks besides the signature. */
export interface VerifyJwtOptions extends VerifyAccessTokenOptions {
  /** Claims that must be present. */
  requiredClaims: string[]
}

/**
 * The one jose verification every `at+jwt` kind shares (access and service
 * tokens): {@link readKid}'s structural checks, `jwtVerify` with an
 * algorithm allow-list, `typ`, `iss`, `aud`, the tolerance and the required
 * claims, jose's errors mapped to the contract's codes, then the kind's
 * claims schema.
 *
 * @param token - the compact JWS
 * @param getKey - a jose key resolver
 * @param schema - the kind's claims schema
 * @param kind - named in the schema failure's message
 * @param options - {@link VerifyJwtOptions}
 * @throws AppError `token_malformed` | `token_invalid` | `token_expired` | `unavailable`
 * @example
 * ```ts
 * await verifyJwt(token, getKey, ServiceClaimsSchema, 'service-token', { issuer, audience, requiredClaims })
 * ```
 */
export async function verifyJwt<S extends v.GenericSchema>(
  token: string,
  getKey: JWTVerifyGetKey,
  schema: S,
  kind: string,
  options: VerifyJwtOptions,
): Promise<{ claims: v.InferOutput<S>; kid: string }> {
  const kid = readKid(token)
  let payload: unknown
  try {
    ;({ payload } = await jwtVerify(token, getKey, {
      algorithms: [...(options.algorithms ?? SIGNING_ALGORITHMS)],
      typ: ACCESS_TOKEN_TYP,
      issuer: options.issuer,
      audience: options.audience,
      requiredClaims: options.requiredClaims,
      clockTolerance: options.clockToleranceSeconds ?? CLOCK_TOLERANCE_SECONDS,
      ...(options.currentDate && { currentDate: options.currentDate }),
    }))
  } catch (err) {
    throw mapJoseError(err)
  }
  const parsed = v.safeParse(schema, payload)
  if (!parsed.success) throw new AppError('token_invalid', `claims do not match the ${kind} schema`)
  return { claims: parsed.output, kid }
}

/**
 * Cheap structural checks before any signature work: size, three base64url
 * segments, a JSON header with a string `kid`.
 */
export function readKid(token: string): string {
  if (token.length > MAX_TOKEN_BYTES)
    throw new AppError('token_malformed', `token over ${MAX_TOKEN_BYTES} bytes`)
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    throw new AppError('token_malformed', 'not a compact JWS')
  }
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(token)
  } catch {
    throw new AppError('token_malformed', 'header is not base64url JSON')
  }
  if (typeof header.kid !== 'string' || header.kid.length === 0 || header.kid.length > 256) {
    throw new AppError('token_malformed', 'header kid missing or not a string')
  }
  if (typeof header.alg !== 'string') throw new AppError('token_malformed', 'header alg missing')
  return header.kid
}

/** Map a jose failure to the contract's token codes (docs/protocol.md §5 error table). */
export function mapJoseError(err: unknown): AppError {
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new AppError('token_expired', '"exp" claim check failed', { cause: err })
    case 'ERR_JWKS_TIMEOUT':
      return new AppError('unavailable', 'key set unreachable', { cause: err })
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new AppError('token_malformed', 'not a valid JWS/JWT', { cause: err })
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as { claim?: string }).claim ?? 'claim'
      return new AppError('token_invalid', `"${claim}" claim check failed`, { cause: err })
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new AppError('token_invalid', `token rejected (${String(code)})`, { cause: err })
    default:
      if (err instanceof AppError) return err
      return new AppError('unavailable', 'token verification failed unexpectedly', { cause: err })
  }
}
