import type { ConnectErrorData, RealtimeErrorPayload } from '../events.ts'
import type { ClientErrorCode } from './client-error.ts'

/** Codes after which only a new login helps (docs/protocol.md §5, §6). */
export const LOGIN_CODES: ReadonlySet<string> = new Set<ClientErrorCode>([
  'token_missing',
  'token_malformed',
  'token_invalid',
  'token_revoked',
  'token_mismatch',
  'token_in_query',
  'invalid_grant',
  'auth_required',
  // A proof that fails a check (docs/protocol.md §15): the key is not the session's.
  'dpop_invalid',
  'invalid_dpop_proof',
])

/** What a client does after a refused handshake or a lost connection. */
export type Recovery =
  /** socket.io-client reconnects by itself (a transport failure). */
  | { action: 'wait' }
  /** Refresh at the edge, then connect with the new token. */
  | { action: 'refresh' }
  /** Connect again after a backoff, no sooner than `minimumMs`. */
  | { action: 'retry'; minimumMs: number }
  /** Stop: only a new login helps. */
  | { action: 'login'; code: ClientErrorCode }
  /** Stop: trying again would be refused the same way. */
  | { action: 'fail'; code: ClientErrorCode; message: string }

/**
 * After `connect_error` (docs/protocol.md §5).
 *
 * @param data - the error's `data`; absent for a transport failure
 * @param message - the error's message, kept for a `fail`
 */
export function afterRefusal(data: ConnectErrorData | undefined, message: string): Recovery {
  if (!data) return { action: 'wait' }
  if (data.refresh) return { action: 'refresh' }
  // dpop_required: the next handshake carries a proof; dpop_nonce_required past the client's own retries.
  if (
    data.code === 'rate_limited' ||
    data.code === 'unavailable' ||
    data.code === 'dpop_required' ||
    data.code === 'dpop_nonce_required'
  )
    return { action: 'retry', minimumMs: data.retryAfterMs ?? 0 }
  if (LOGIN_CODES.has(data.code)) return { action: 'login', code: data.code }
  return { action: 'fail', code: data.code, message }
}

/**
 * After `disconnect`. Only a server-side close has a reason of ours: the
 * `rt:error` sent just before it.
 *
 * @param reason - socket.io-client's disconnect reason
 * @param lastError - the last `rt:error` of this connection
 */
export function afterDisconnect(
  reason: string,
  lastError: RealtimeErrorPayload | undefined,
): Recovery {
  if (reason !== 'io server disconnect') return { action: 'wait' }
  const code = lastError?.code
  if (code && LOGIN_CODES.has(code)) return { action: 'login', code }
  if (code === 'token_expired') return { action: 'refresh' }
  // A service closed the connection (docs/protocol.md §8): come back only when it says so.
  if (code === 'disconnected' && lastError?.retryable !== true)
    return { action: 'fail', code, message: 'closed by the application' }
  return { action: 'retry', minimumMs: 0 }
}
