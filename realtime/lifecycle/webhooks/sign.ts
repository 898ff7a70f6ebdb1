import { createHmac, createSecretKey } from 'node:crypto'
import { secretKey } from '../../../shared/webhooks/signature.ts'

/** Signs one delivery: `webhook-signature` for `id`, `timestampSeconds` and the exact `body`. */
export type DeliverySigner = (id: string, timestampSeconds: number, body: string) => string

/**
 * The sender's Standard Webhooks signer for one endpoint secret: the HMAC
 * key is imported once (a `KeyObject`), and each delivery is signed
 * synchronously with `node:crypto`. WebCrypto's `subtle.sign` is a
 * thread-pool job per call, which costs a delivering node several times
 * the HMAC itself; the output is byte for byte the same as
 * `signWebhook` in shared/webhooks/signature.ts (test/realtime/lifecycle/webhooks/sign.test.ts
 * holds it to that and to the Standard Webhooks vector).
 *
 * @param secret - `whsec_` + base64 (checked by `parseWebhooks` before it gets here)
 * @returns the signer: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`
 * @example
 * ```ts
 * const sign = deliverySigner(endpoint.secret)
 * const signature = sign(event.id, Math.floor(Date.now() / 1000), body) // 'v1,…'
 * ```
 */
export function deliverySigner(secret: string): DeliverySigner {
  const key = createSecretKey(secretKey(secret))
  return (id, timestampSeconds, body) =>
    'v1,' +
    createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64')
}
