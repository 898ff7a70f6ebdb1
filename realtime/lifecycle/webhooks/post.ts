import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

/** One delivery's request. */
export interface WebhookRequest {
  url: string
  headers: Record<string, string>
  body: string
  signal: AbortSignal
}

/** Sends a delivery and resolves with the answer's status (its body is discarded). */
export type PostWebhook = (request: WebhookRequest) => Promise<number>

const agents = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
}

/**
 * POST a delivery with node:http(s) over kept-alive connections: a
 * delivery per event is on the hot path of a churning cluster, and this
 * costs the node less CPU than `fetch`. Redirects are not followed (a 3xx
 * is a failed delivery); the answer's body is drained and dropped.
 *
 * @param request - {@link WebhookRequest}
 * @returns the status; rejects on a network error or an abort
 */
export const postWebhook: PostWebhook = ({ url, headers, body, signal }) =>
  new Promise((resolve, reject) => {
    const target = new URL(url)
    const secure = target.protocol === 'https:'
    const req = (secure ? httpsRequest : httpRequest)(target, {
      method: 'POST',
      headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      agent: secure ? agents.https : agents.http,
      signal,
    })
    req.once('response', (res) => {
      res.resume()
      res.once('end', () => resolve(res.statusCode ?? 0))
      res.once('error', reject)
      // Cut off before its end (the abort, or the peer): a failed delivery.
      res.once('close', () => reject(new Error('webhook answer cut off')))
    })
    req.once('error', reject)
    req.end(body)
  })

/**
 * A {@link PostWebhook} over a `fetch` (tests, or a runtime without node:http).
 *
 * @param send - the fetch to use
 */
export function postWithFetch(send: typeof fetch): PostWebhook {
  return async ({ url, headers, body, signal }) => {
    const res = await send(url, { method: 'POST', headers, body, redirect: 'manual', signal })
    await res.body?.cancel().catch(() => undefined)
    return res.status
  }
}
