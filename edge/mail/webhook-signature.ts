/**
 * Signing of the mail webhook (docs/protocol.md §13 `MAILER=webhook`), the
 * way §16 signs lifecycle webhooks: the one Standard Webhooks signer in
 * `shared/webhooks/`, so the edge's mail and realtime's events are signed by
 * the same code that `verifyWebhook` checks them with.
 */
import {
  importWebhookKey,
  isSenderSecret,
  secretKey,
  signWebhook as signature,
} from '../../shared/webhooks/signature.ts'

/** The three headers of a signed webhook request. */
export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

/**
 * The key bytes of a sender's `whsec_` secret.
 *
 * @throws TypeError when the secret is not `whsec_` + base64 of at least 24 bytes (a configuration error)
 */
export function webhookSecretBytes(secret: string): Uint8Array<ArrayBuffer> {
  if (!isSenderSecret(secret)) {
    throw new TypeError('webhook secret must be whsec_ + base64 of at least 24 bytes')
  }
  return secretKey(secret)
}

/**
 * Sign one webhook body.
 *
 * @param secret - `whsec_` + base64 of the key
 * @param id - the message id (`webhook-id`)
 * @param timestampSeconds - Unix seconds (`webhook-timestamp`)
 * @param body - the exact body sent
 * @example
 * ```ts
 * const headers = await signWebhook(secret, crypto.randomUUID(), now, JSON.stringify(mail))
 * ```
 */
export async function signWebhook(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<WebhookHeaders> {
  const key = await importWebhookKey(webhookSecretBytes(secret))
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': await signature(key, id, timestampSeconds, body),
  }
}
