import { EDGE_ERROR_CODES, REALTIME_ERROR_CODES, type ErrorCode } from '../errors.ts'

/** OAuth 2.0 token-endpoint codes (RFC 6749 §5.2) the edge answers `/auth/token` with (docs/protocol.md §8). */
const TOKEN_ENDPOINT_CODES = [
  'invalid_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_request',
] as const

/** Every code a publisher call can reject with: the contract's, the token endpoint's, and `network` / `timeout`. */
export type PublisherErrorCode =
  ErrorCode | (typeof TOKEN_ENDPOINT_CODES)[number] | 'network' | 'timeout'

const KNOWN = new Set<string>([
  ...EDGE_ERROR_CODES,
  ...REALTIME_ERROR_CODES,
  ...TOKEN_ENDPOINT_CODES,
])

/**
 * A failed publisher call, with the contract's code (docs/protocol.md §8):
 * `token_*` (401), `forbidden`, `envelope_invalid`, `payload_too_large`,
 * `rate_limited` (after the retries), `unavailable`, `invalid_client` from
 * the edge, or `network` / `timeout`.
 *
 * @example
 * ```ts
 * try { await publisher.publish({ to: { user }, event: 'note', data }) }
 * catch (err) { if (err instanceof PublisherError && err.code === 'forbidden') … }
 * ```
 */
export class PublisherError extends Error {
  readonly code: PublisherErrorCode
  /** HTTP status, when there was an answer. */
  readonly status: number | undefined
  /** For `rate_limited`: the server's `Retry-After`, ms. */
  readonly retryAfterMs: number | undefined

  constructor(
    code: PublisherErrorCode,
    message: string,
    options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PublisherError'
    this.code = code
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
  }
}

/**
 * The error of a refused response: its `{ error, error_description }` when
 * the code is one of the contract's, else `server_error` (or `unavailable`
 * for a 503 from a proxy).
 */
export async function errorFromResponse(res: Response, where: string): Promise<PublisherError> {
  let body: unknown
  try {
    body = await res.json()
  } catch {
    body = undefined
  }
  const error = (body as { error?: unknown } | undefined)?.error
  const code: PublisherErrorCode =
    typeof error === 'string' && KNOWN.has(error)
      ? (error as PublisherErrorCode)
      : res.status === 503
        ? 'unavailable'
        : 'server_error'
  const retryAfter = Number(res.headers.get('retry-after'))
  return new PublisherError(code, `${where}: HTTP ${res.status} ${code}`, {
    status: res.status,
    ...(retryAfter > 0 && { retryAfterMs: retryAfter * 1000 }),
  })
}
