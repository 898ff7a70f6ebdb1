import type { Context } from 'hono'
import { AppError, isAppError, type EdgeErrorCode, type ErrorCode } from '../../shared/errors.ts'
import { ConfigError } from '../config.ts'
import { log } from './log.ts'

/** HTTP status of each edge error code: the one place codes meet statuses. */
const STATUS: Record<EdgeErrorCode, 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503> = {
  invalid_request: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  invalid_client: 401,
  forbidden: 403,
  invalid_credentials: 401,
  invalid_grant: 401,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  server_error: 500,
  unavailable: 503,
  weak_password: 400,
  signup_closed: 403,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
}

/**
 * The wire text for each code. Internal messages name the failed check for
 * logs; clients get these, so no response says *which* credential check
 * failed. `invalid_request` is the exception: its message names the field and
 * rule (never the value), which a client needs to fix its request, and so
 * does `weak_password`'s, which names the password rule that failed.
 */
const DESCRIPTION: Record<EdgeErrorCode, string> = {
  invalid_request: 'the request is malformed',
  unsupported_grant_type: 'the grant type is not supported',
  invalid_scope: 'the requested scope is invalid or exceeds the scope granted to the client',
  invalid_client: 'client authentication failed',
  forbidden: 'the token does not grant this operation',
  invalid_credentials: 'invalid username or password',
  invalid_grant: 'the grant is invalid, expired, revoked or already used',
  unauthorized: 'missing or invalid credentials for this endpoint',
  not_found: 'not found',
  conflict: 'the request conflicts with the current state',
  payload_too_large: 'the request body is too large',
  unsupported_media_type: 'the request body has a media type this endpoint does not accept',
  rate_limited: 'too many attempts; retry later',
  server_error: 'internal error',
  unavailable: 'the service is not available',
  weak_password: 'the password is too weak',
  signup_closed: 'sign-up is closed, or the invite is not valid',
  invalid_dpop_proof: 'the DPoP proof is missing or invalid',
  use_dpop_nonce: 'send a DPoP proof with the nonce in the DPoP-Nonce header',
}

/** The realm of the token endpoint's Basic challenge (RFC 7617). */
const BASIC_REALM = 'edgegate'

function isEdgeCode(code: ErrorCode): code is EdgeErrorCode {
  return code in STATUS
}

/**
 * Build the contract's error response `{ error, error_description }`.
 *
 * @param c - the request context
 * @param code - the contract code
 * @param description - wire text; defaults to the code's generic text
 */
export function errorResponse(c: Context, code: EdgeErrorCode, description = DESCRIPTION[code]) {
  c.header('Cache-Control', 'no-store')
  if (code === 'invalid_client') {
    // RFC 6749 §5.2: the token endpoint challenges with the client's auth scheme, whatever failed.
    c.header('WWW-Authenticate', `Basic realm="${BASIC_REALM}", charset="UTF-8"`)
  } else if (code === 'forbidden') {
    // RFC 6750 §3.1: a valid bearer token without the scope this needs.
    c.header('WWW-Authenticate', 'Bearer error="insufficient_scope"')
  } else if (STATUS[code] === 401 && code !== 'invalid_credentials') {
    // RFC 6750 §3: a 401 for a bearer-protected resource names the scheme.
    c.header(
      'WWW-Authenticate',
      `Bearer error="invalid_token", error_description="${DESCRIPTION[code]}"`,
    )
  }
  return c.json({ error: code, error_description: description }, STATUS[code])
}

/**
 * `app.onError`: coded errors become contract responses; anything else is a
 * bug, logged (name and message, never request data) and answered with 500.
 */
export function handleError(err: Error, c: Context) {
  if (isAppError(err) && isEdgeCode(err.code)) {
    if (err.retryAfterSeconds !== undefined)
      c.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterSeconds))))
    log('warn', 'request refused', { code: err.code, reason: err.message })
    const named = err.code === 'invalid_request' || err.code === 'weak_password'
    return errorResponse(c, err.code, named ? err.message : undefined)
  }
  if (err instanceof ConfigError) {
    log('error', 'configuration invalid', { reason: err.message })
    return errorResponse(c, 'server_error')
  }
  log('error', 'unhandled error', { error: err.name, reason: err.message, stack: err.stack })
  return errorResponse(c, 'server_error')
}

/** Throw the contract's `invalid_request` naming the rule that failed. */
export function invalidRequest(message: string): never {
  throw new AppError('invalid_request', message)
}
