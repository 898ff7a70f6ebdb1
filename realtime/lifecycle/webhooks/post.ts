import { Pool } from 'undici'
import { WEBHOOK_ANSWER_MAX_BYTES } from '../../constants.ts'

/** A delivery's result: the answer's status, or why there was none. */
export type PostOutcome = number | 'timeout' | 'network'

/** One endpoint's sender of deliveries. */
export interface WebhookPoster {
  /** POST `body` with `headers`; never rejects. */
  post(headers: Record<string, string>, body: string): Promise<PostOutcome>
  /** Abort what is in flight and close the connections. */
  close(): Promise<void>
}

/** Options of {@link poolPoster} and {@link fetchPoster}. */
export interface PosterOptions {
  /** Longest wait for the answer's status (and between chunks of its body), ms. */
  timeoutMs: number
  /** Aborts every request in flight (the deliverer closing). */
  signal: AbortSignal
}

/** undici's error codes of a request that ran out of time. */
const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
])

/**
 * An endpoint's sender over an undici `Pool`: at most `connections`
 * kept-alive connections to the endpoint's origin, reused across
 * deliveries. A delivery per event is on the hot path of a churning
 * cluster, and undici costs a node about half the CPU of node:http per
 * request (and a quarter of `fetch`'s). The timeout is undici's own
 * (headers, then body idle), kept on its shared timer wheel: no timer and
 * no AbortController per request. Redirects are not followed (a 3xx is a
 * failed delivery); the answer's body is drained up to
 * `WEBHOOK_ANSWER_MAX_BYTES` and dropped (a bigger one closes the connection).
 *
 * @param url - the endpoint's http(s) URL
 * @param connections - most connections open to it at once (the endpoint's concurrency)
 * @param options - {@link PosterOptions}
 * @example
 * ```ts
 * const poster = poolPoster(endpoint.url, 8, { timeoutMs: 10_000, signal: closing.signal })
 * const status = await poster.post(headers, body) // 204, 'timeout' or 'network'
 * ```
 */
export function poolPoster(
  url: string,
  connections: number,
  options: PosterOptions,
): WebhookPoster {
  const target = new URL(url)
  const path = `${target.pathname}${target.search}`
  const { timeoutMs, signal } = options
  const pool = new Pool(target.origin, {
    connections,
    connectTimeout: timeoutMs,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  })
  return {
    async post(headers, body) {
      try {
        const res = await pool.request({ path, method: 'POST', headers, body, signal })
        // The status is the answer; a body cut off or too long costs the connection, not the delivery.
        await res.body.dump({ limit: WEBHOOK_ANSWER_MAX_BYTES }).catch(() => undefined)
        return res.statusCode
      } catch (err) {
        const code = (err as { code?: unknown }).code
        return typeof code === 'string' && TIMEOUT_CODES.has(code) ? 'timeout' : 'network'
      }
    },
    close: () => pool.destroy(),
  }
}

/**
 * An endpoint's sender over a `fetch` (tests, or a runtime without undici):
 * one `AbortSignal.timeout` per request, redirects not followed.
 *
 * @param send - the fetch to use
 * @param url - the endpoint
 * @param options - {@link PosterOptions}
 */
export function fetchPoster(
  send: typeof fetch,
  url: string,
  options: PosterOptions,
): WebhookPoster {
  return {
    async post(headers, body) {
      const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)])
      try {
        const res = await send(url, { method: 'POST', headers, body, redirect: 'manual', signal })
        await res.body?.cancel().catch(() => undefined)
        return res.status
      } catch (err) {
        return (err as Error).name === 'TimeoutError' ? 'timeout' : 'network'
      }
    },
    close: async () => undefined,
  }
}
