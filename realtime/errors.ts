import { AppError, isAppError, type RealtimeErrorCode } from '../shared/errors.ts'
import type { Ack } from '../shared/envelope.ts'
import type { ConnectErrorData, RealtimeErrorPayload } from '../shared/events.ts'

/** What a client should do about each code, for `connect_error` (docs/protocol.md §5 error table). */
const HINTS: Record<RealtimeErrorCode, { retryable: boolean; refresh: boolean; login: boolean }> = {
  token_missing: { retryable: false, refresh: false, login: true },
  token_in_query: { retryable: false, refresh: false, login: false },
  token_malformed: { retryable: false, refresh: false, login: true },
  token_invalid: { retryable: false, refresh: false, login: true },
  token_expired: { retryable: true, refresh: true, login: false },
  token_revoked: { retryable: false, refresh: false, login: true },
  token_mismatch: { retryable: false, refresh: false, login: true },
  origin_forbidden: { retryable: false, refresh: false, login: false },
  rate_limited: { retryable: true, refresh: false, login: false },
  forbidden: { retryable: false, refresh: false, login: false },
  envelope_invalid: { retryable: false, refresh: false, login: false },
  payload_too_large: { retryable: false, refresh: false, login: false },
  unknown_event: { retryable: false, refresh: false, login: false },
  unavailable: { retryable: true, refresh: false, login: false },
  // Each disconnect says whether it is retryable (docs/protocol.md §8).
  disconnected: { retryable: false, refresh: false, login: false },
  // DPoP (docs/protocol.md §15): the SDK answers the first and last by itself.
  dpop_required: { retryable: true, refresh: false, login: false },
  dpop_invalid: { retryable: false, refresh: false, login: true },
  dpop_nonce_required: { retryable: true, refresh: false, login: false },
}

/** The wire text of each code. Detailed reasons stay in the server's log. */
const MESSAGES: Record<RealtimeErrorCode, string> = {
  token_missing: 'no access token',
  token_in_query: 'send the token in the handshake auth, not the query string',
  token_malformed: 'the access token is malformed',
  token_invalid: 'the access token is invalid',
  token_expired: 'the access token has expired',
  token_revoked: 'the session has been revoked',
  token_mismatch: 'the token belongs to another user or session',
  origin_forbidden: 'origin not allowed',
  rate_limited: 'too many requests',
  forbidden: 'not allowed',
  envelope_invalid: 'the message does not match the schema',
  payload_too_large: 'the message is too large',
  unknown_event: 'unknown event',
  unavailable: 'temporarily unavailable',
  disconnected: 'closed by the application',
  dpop_required: 'the token is bound to a key: send a DPoP proof',
  dpop_invalid: 'the DPoP proof is invalid',
  dpop_nonce_required: 'send a DPoP proof with the nonce given',
}

/** A refusal with a realtime code. */
export type RealtimeError = AppError<RealtimeErrorCode>

/** The nonce a `dpop_nonce_required` refusal hands the client (docs/protocol.md §15). */
const NONCES = new WeakMap<RealtimeError, string>()

/**
 * A `dpop_nonce_required` refusal that carries the nonce to retry with: in
 * `connect_error` as `data.nonce`, in an ack's or `rt:error`'s `error` as
 * `nonce` (docs/protocol.md §15).
 *
 * @param reason - the failed check, for logs
 * @param nonce - the node's current nonce
 * @example
 * ```ts
 * throw dpopNonceRequired('no nonce', nonces.current())
 * ```
 */
export function dpopNonceRequired(reason: string, nonce: string): RealtimeError {
  const error = new AppError('dpop_nonce_required', reason)
  NONCES.set(error, nonce)
  return error
}

/** An error with `retryAfterMs`, for `rate_limited`. */
export function rateLimited(reason: string, retryAfterMs: number): RealtimeError {
  return new AppError('rate_limited', reason, { retryAfterSeconds: retryAfterMs / 1000 })
}

/**
 * Narrow anything thrown to a realtime-coded error. Unknown errors are bugs
 * or outages: the caller logs the original, the client sees `unavailable`.
 */
export function toRealtimeError(err: unknown): { error: RealtimeError; unexpected: boolean } {
  if (isAppError(err) && err.code in HINTS)
    return { error: err as RealtimeError, unexpected: false }
  return {
    error: new AppError('unavailable', 'unexpected failure', { cause: err }),
    unexpected: true,
  }
}

/** The wire message for a code. */
export function wireMessage(code: RealtimeErrorCode): string {
  return MESSAGES[code]
}

/**
 * The wire message of a refusal: the code's generic text, except that
 * `envelope_invalid` names the field and the rule that failed
 * (docs/protocol.md §5, v1.2). Every `envelope_invalid` raised here is
 * built from a schema's rule or a fixed text, never from the input.
 */
function messageOf(error: RealtimeError): string {
  return error.code === 'envelope_invalid' ? error.message : MESSAGES[error.code]
}

/**
 * The `connect_error` a refused handshake produces: `message` is the code and
 * `data` the contract's hints.
 *
 * @param error - the refusal
 * @param options - `loginUrl` becomes `redirect` for codes whose move is "log in"
 */
export function connectError(
  error: RealtimeError,
  options: { loginUrl?: string } = {},
): Error & { data: ConnectErrorData } {
  const hint = HINTS[error.code]
  const data: ConnectErrorData = {
    code: error.code,
    retryable: hint.retryable,
    refresh: hint.refresh,
  }
  if (error.retryAfterSeconds !== undefined)
    data.retryAfterMs = Math.ceil(error.retryAfterSeconds * 1000)
  if (hint.login && options.loginUrl) data.redirect = options.loginUrl
  const nonce = NONCES.get(error)
  if (nonce !== undefined) data.nonce = nonce
  return Object.assign(new Error(error.code), { data })
}

/** The ack for a refused envelope. */
export function ackError(error: RealtimeError): Ack<never> {
  const reply: Ack<never> & { retryAfterMs?: number } = {
    ok: false,
    error: { code: error.code, message: messageOf(error) },
  }
  const nonce = NONCES.get(error)
  if (nonce !== undefined) (reply.error as { nonce?: string }).nonce = nonce
  if (error.retryAfterSeconds !== undefined) {
    ;(reply.error as { retryAfterMs?: number }).retryAfterMs = Math.ceil(
      error.retryAfterSeconds * 1000,
    )
  }
  return reply
}

/** The `rt:error` for a refused envelope sent without an ack. */
export function rtError(
  error: RealtimeError,
  id?: string,
): RealtimeErrorPayload & { retryAfterMs?: number } {
  const payload: RealtimeErrorPayload & { retryAfterMs?: number } = {
    code: error.code,
    message: messageOf(error),
  }
  if (id !== undefined) payload.id = id
  const nonce = NONCES.get(error)
  if (nonce !== undefined) payload.nonce = nonce
  if (error.retryAfterSeconds !== undefined)
    payload.retryAfterMs = Math.ceil(error.retryAfterSeconds * 1000)
  return payload
}
