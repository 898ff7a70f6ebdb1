import type { ErrorCode } from '../errors.ts'

/** Codes the client adds to the contract's: its own timeouts and states. */
export type ClientOnlyCode =
  'timeout' | 'disconnected' | 'queue_full' | 'auth_required' | 'network' | 'closed'

/** Every code a client call can reject with. */
export type ClientErrorCode = ErrorCode | ClientOnlyCode

/**
 * A failed client call, with the contract's code (or a client-side one).
 *
 * @example
 * ```ts
 * try { await client.emit('chat:send', { room, text }) }
 * catch (err) { if (err instanceof ClientError && err.code === 'forbidden') … }
 * ```
 */
export class ClientError extends Error {
  readonly code: ClientErrorCode
  /** For `rate_limited`: how long to wait. */
  readonly retryAfterMs: number | undefined

  /**
   * @param code - the contract's code, or a client-side one
   * @param message - names the failed step, never a token
   * @param retryAfterMs - for `rate_limited`
   * @param options - `cause`: the error behind this one (e.g. what a grant provider threw)
   */
  constructor(
    code: ClientErrorCode,
    message: string,
    retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'ClientError'
    this.code = code
    this.retryAfterMs = retryAfterMs
  }
}
