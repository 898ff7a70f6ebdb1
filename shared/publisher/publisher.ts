import { PublisherError, errorFromResponse } from './errors.ts'
import { ServiceTokenSource } from './service-token.ts'

/** Options of {@link createPublisher}. */
export interface PublisherOptions {
  /** The edge's base URL, for service tokens. */
  edgeUrl: string
  /** The service client's id and secret (from `POST /admin/clients`). */
  clientId: string
  clientSecret: string
  /** The realtime service's base URL (any node of the cluster). */
  realtimeUrl: string
  /** Scopes to ask for. @default all the client holds */
  scope?: string
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /** Attempts per call, the first included. @default 5 */
  maxAttempts?: number
  /** First backoff ceiling, ms; doubled per attempt up to 10 s, full jitter. @default 200 */
  backoffMs?: number
  /** Per-request time limit, ms. @default 10000 */
  timeoutMs?: number
  /** ms clock. @default Date.now */
  now?: () => number
  /** Waits between attempts. @default setTimeout */
  sleep?: (ms: number) => Promise<void>
  /** Random source for the jitter. @default Math.random */
  random?: () => number
}

/** Where a publish goes (docs/protocol.md §8). */
export type PublishTo = { user: string } | { session: string } | { room: string }

/** A publisher for other services: publish and disconnect through the realtime server API. */
export interface Publisher {
  /**
   * Publish `event` with `data` to a user, session or room. The call is
   * idempotent by `id` (generated when absent, and reused by every retry).
   *
   * @returns the 202 answer: `id`, and `offset` for a user target
   */
  publish(input: {
    to: PublishTo
    event: string
    data: unknown
    id?: string
  }): Promise<{ id: string; offset?: string }>
  /** Close every connection of a user or session on every node; `retryable` (default false) tells clients they may reconnect. */
  disconnect(
    target: { user: string } | { session: string },
    options?: { retryable?: boolean },
  ): Promise<{ id: string }>
}

/** Most a retry waits for a `Retry-After`, ms. */
const MAX_RETRY_AFTER_MS = 60_000
/** Ceiling of the exponential backoff, ms. */
const MAX_BACKOFF_MS = 10_000

/**
 * A publisher for other services (docs/protocol.md §8): gets a service token
 * from the edge by client credentials and renews it before it expires (one
 * request at a time), then calls the realtime server API. Network failures,
 * timeouts, 5xx and 429 (honouring `Retry-After`) are retried with the SAME
 * publish `id`, so a retry of a publish that did land delivers nothing
 * twice; a 401 `token_expired` renews the token once. Other refusals throw
 * a {@link PublisherError} with the contract's code. Only `fetch`, `btoa`,
 * `crypto.randomUUID` and `AbortSignal.timeout`: it runs in a Worker too.
 *
 * @param options - {@link PublisherOptions}
 * @example
 * ```ts
 * const publisher = createPublisher({ edgeUrl, clientId, clientSecret, realtimeUrl })
 * await publisher.publish({ to: { user: sub }, event: 'order.shipped', data: { order: 42 } })
 * ```
 */
export function createPublisher(options: PublisherOptions): Publisher {
  for (const name of ['edgeUrl', 'clientId', 'clientSecret', 'realtimeUrl'] as const) {
    if (!options[name]) throw new TypeError(`createPublisher: ${name} is required`)
  }
  const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const now = options.now ?? Date.now
  const timeoutMs = options.timeoutMs ?? 10_000
  const maxAttempts = options.maxAttempts ?? 5
  const backoffMs = options.backoffMs ?? 200
  const random = options.random ?? Math.random
  const sleep =
    options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)))
  const tokens = new ServiceTokenSource({
    edgeUrl: options.edgeUrl,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    ...(options.scope !== undefined && { scope: options.scope }),
    fetch: fetcher,
    now,
    timeoutMs,
  })
  const base = options.realtimeUrl.replace(/\/+$/, '')

  /** One API call with its retries; the body (and so the publish id) is the same for each. */
  async function call<T>(path: string, body: object): Promise<T> {
    const json = JSON.stringify(body)
    let renewed = false
    for (let attempt = 1; ; attempt++) {
      let error: PublisherError
      try {
        const token = await tokens.get()
        const res = await fetcher(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: json,
          signal: AbortSignal.timeout(timeoutMs),
        })
        if (res.ok) {
          const answer: unknown = await res.json().catch(() => undefined)
          if (typeof (answer as { id?: unknown } | undefined)?.id !== 'string') {
            throw new PublisherError('server_error', `POST ${path}: not a server-API answer`, {
              status: res.status,
            })
          }
          return answer as T
        }
        error = await errorFromResponse(res, `POST ${path}`)
        if (error.code === 'token_expired' && !renewed) {
          // Our clock and the server's disagree: a new token, once, at once.
          renewed = true
          tokens.invalidate(token)
          attempt--
          continue
        }
      } catch (err) {
        error = asPublisherError(err, path)
      }
      if (!retryable(error) || attempt >= maxAttempts) throw error
      const jitter = Math.floor(random() * Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempt - 1)))
      await sleep(Math.max(jitter, Math.min(error.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)))
    }
  }

  return {
    publish(input) {
      return call('/api/v1/publish', { ...input, id: input.id ?? crypto.randomUUID() })
    },
    disconnect(target, { retryable: again = false } = {}) {
      return call('/api/v1/disconnect', { ...target, retryable: again })
    },
  }
}

/** Transient: the network, a timeout, a 5xx, a 429. */
function retryable(error: PublisherError): boolean {
  return (
    error.code === 'network' ||
    error.code === 'timeout' ||
    error.code === 'rate_limited' ||
    (error.status ?? 0) >= 500
  )
}

function asPublisherError(err: unknown, path: string): PublisherError {
  if (err instanceof PublisherError) return err
  const name = (err as { name?: unknown } | null)?.name
  if (name === 'TimeoutError' || name === 'AbortError')
    return new PublisherError('timeout', `POST ${path}: timed out`, { cause: err })
  return new PublisherError(
    'network',
    `POST ${path}: ${(err as Error)?.message ?? 'network error'}`,
    { cause: err },
  )
}
