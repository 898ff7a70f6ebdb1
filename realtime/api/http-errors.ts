import { isAppError, type ErrorCode } from '../../shared/errors.ts'
import { DPOP_CHALLENGE_ALGS, DpopNonceError } from '../../shared/verify-request.ts'
import { wireMessage } from '../errors.ts'

/** Codes the server API answers with (docs/protocol.md §8), and their statuses. */
const STATUS = {
  token_missing: 401,
  token_in_query: 401,
  token_malformed: 401,
  token_invalid: 401,
  token_expired: 401,
  token_revoked: 401,
  token_mismatch: 401,
  // (v1.2) DPoP-bound tokens on REST (RFC 9449 §7.1; docs/protocol.md §15).
  dpop_required: 401,
  dpop_invalid: 401,
  dpop_nonce_required: 401,
  forbidden: 403,
  envelope_invalid: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  server_error: 500,
} as const satisfies Partial<Record<ErrorCode, number>>

/** A code the server API answers with. */
export type ApiErrorCode = keyof typeof STATUS

/** The wire form of a refusal: status, headers and the `{ error, error_description }` body. */
export interface ApiErrorResponse {
  status: (typeof STATUS)[ApiErrorCode]
  headers: Record<string, string>
  body: { error: ApiErrorCode; error_description: string }
}

/**
 * The one place the server API maps a failure to its response
 * (docs/protocol.md §8): token codes are 401 with `WWW-Authenticate: Bearer
 * error="invalid_token"` (RFC 6750 §3; no error attribute when no token was
 * sent), `forbidden` 403 with `insufficient_scope`, `rate_limited` 429 with
 * `Retry-After`. Descriptions are generic except for `envelope_invalid`,
 * which names the rule that failed (never the input). Anything not coded is
 * `unexpected`: the caller logs it, the client sees 500.
 *
 * @param err - anything thrown while serving the request
 * @param scope - the route's scope, named in a 403's challenge
 * @param realm - the challenge's realm (the REST middleware names the application's). @default 'realtime-api'
 */
export function apiErrorResponse(
  err: unknown,
  scope: string,
  realm = 'realtime-api',
): ApiErrorResponse & { unexpected: boolean } {
  const code = isAppError(err) && err.code in STATUS ? (err.code as ApiErrorCode) : 'server_error'
  const headers: Record<string, string> = { 'Cache-Control': 'no-store' }
  const description = describe(
    code,
    code === 'envelope_invalid' ? (err as Error).message : undefined,
  )
  const status = STATUS[code]
  if (code === 'dpop_required' || code === 'dpop_invalid' || code === 'dpop_nonce_required') {
    // RFC 9449 §7.1 and §9: the DPoP scheme's challenge, with the error it defines.
    const error = DPOP_CHALLENGE_ERROR[code]
    headers['WWW-Authenticate'] =
      `DPoP realm="${realm}", error="${error}", error_description="${description}", algs="${DPOP_CHALLENGE_ALGS}"`
    if (err instanceof DpopNonceError) {
      headers['DPoP-Nonce'] = err.nonce
      headers['Access-Control-Expose-Headers'] = 'DPoP-Nonce, WWW-Authenticate'
    }
  } else if (status === 401) {
    headers['WWW-Authenticate'] =
      code === 'token_missing'
        ? `Bearer realm="${realm}"`
        : `Bearer realm="${realm}", error="invalid_token", error_description="${description}"`
  } else if (code === 'forbidden') {
    headers['WWW-Authenticate'] =
      `Bearer realm="${realm}", error="insufficient_scope", scope="${scope}"`
  }
  const retryAfter = isAppError(err) ? err.retryAfterSeconds : undefined
  if (retryAfter !== undefined) headers['Retry-After'] = String(Math.max(1, Math.ceil(retryAfter)))
  return {
    status,
    headers,
    body: { error: code, error_description: description },
    unexpected: code === 'server_error',
  }
}

/** The RFC 9449 error of each DPoP code's challenge. */
const DPOP_CHALLENGE_ERROR = {
  // A bound token sent as Bearer, or without a proof: the token is not usable this way.
  dpop_required: 'invalid_token',
  dpop_invalid: 'invalid_dpop_proof',
  dpop_nonce_required: 'use_dpop_nonce',
} as const

function describe(code: ApiErrorCode, detail: string | undefined): string {
  switch (code) {
    case 'envelope_invalid':
      return detail ?? 'the request does not match the schema'
    case 'unsupported_media_type':
      return 'the request body must be application/json'
    case 'payload_too_large':
      return 'the request or its data is too large'
    case 'forbidden':
      return 'the token lacks the scope this endpoint needs'
    case 'server_error':
      return 'internal error'
    default:
      return wireMessage(code)
  }
}
