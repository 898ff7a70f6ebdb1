/**
 * Error codes of the wire contract, and the one error class that carries them.
 *
 * Each runtime maps an {@link AppError} to its wire form in exactly one place
 * (the edge's `app.onError`, the realtime ack / `connect_error` adapter), so
 * a code is the only thing callers and tests need to match on.
 */

/** Codes the edge's HTTP API answers with (docs/protocol.md §3). */
export const EDGE_ERROR_CODES = [
  'invalid_request',
  'invalid_credentials',
  'invalid_grant',
  'unauthorized',
  'rate_limited',
  'conflict',
  'not_found',
  'unsupported_media_type',
  'payload_too_large',
  'unavailable',
  'server_error',
  // v1.1: the client-credentials token endpoint (RFC 6749 §5.2) and room grants (docs/protocol.md §8, §11).
  'invalid_client',
  'unsupported_grant_type',
  'invalid_scope',
  'forbidden',
  // v1.2: accounts (docs/protocol.md §13).
  'weak_password',
  'signup_closed',
  // v1.2: DPoP (docs/protocol.md §15; RFC 9449 §5, §8).
  'invalid_dpop_proof',
  'use_dpop_nonce',
] as const

/** A code the edge's HTTP API answers with. */
export type EdgeErrorCode = (typeof EDGE_ERROR_CODES)[number]

/** Codes of `connect_error`, acks and `rt:error` (docs/protocol.md §5). */
export const REALTIME_ERROR_CODES = [
  'token_missing',
  'token_in_query',
  'token_malformed',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'token_mismatch',
  'origin_forbidden',
  'rate_limited',
  'forbidden',
  'envelope_invalid',
  'payload_too_large',
  'unknown_event',
  'unavailable',
  // v1.1: a service closed the connection through the server API (docs/protocol.md §8).
  'disconnected',
  // v1.2: DPoP (docs/protocol.md §15).
  'dpop_required',
  'dpop_invalid',
  'dpop_nonce_required',
] as const

/** A code of `connect_error`, acks and `rt:error`. */
export type RealtimeErrorCode = (typeof REALTIME_ERROR_CODES)[number]

/** Every code of the contract. */
export type ErrorCode = EdgeErrorCode | RealtimeErrorCode

/**
 * An expected failure with a contract code. `message` names the failed check
 * for logs; it never contains the input (no tokens, passwords or keys).
 *
 * @example
 * ```ts
 * throw new AppError('invalid_grant', 'refresh token already spent')
 * ```
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  /** The contract code. */
  readonly code: C
  /** Seconds until a retry can succeed, for `rate_limited`. */
  readonly retryAfterSeconds: number | undefined

  /**
   * @param code - the contract code
   * @param message - the failed check, for logs; never includes input values
   * @param options - `cause` for chaining; `retryAfterSeconds` for `rate_limited`
   */
  constructor(
    code: C,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'AppError'
    this.code = code
    this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/**
 * Whether `value` is an {@link AppError} (works across module copies).
 *
 * @param value - anything caught
 */
export function isAppError(value: unknown): value is AppError {
  return (
    value instanceof AppError ||
    (value instanceof Error &&
      value.name === 'AppError' &&
      typeof (value as AppError).code === 'string')
  )
}
