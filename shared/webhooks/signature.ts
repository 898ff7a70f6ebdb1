import { WEBHOOK_SECRET_MIN_BYTES, WEBHOOK_SECRET_PREFIX } from '../constants.ts'
import { WebhookVerificationError } from './errors.ts'

/**
 * The key bytes of a Standard Webhooks secret: `whsec_` + base64 (the prefix
 * is optional, as in the `standardwebhooks` package).
 *
 * @param secret - `whsec_…`
 * @param minBytes - fewest key bytes accepted. @default 1 (receivers); the sender asks for 24
 * @throws WebhookVerificationError `secret_invalid`: not base64, or too short
 */
export function secretKey(secret: string, minBytes = 1): Uint8Array<ArrayBuffer> {
  const text = secret.startsWith(WEBHOOK_SECRET_PREFIX)
    ? secret.slice(WEBHOOK_SECRET_PREFIX.length)
    : secret
  let key: Uint8Array<ArrayBuffer>
  try {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) throw new Error()
    key = Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
  } catch {
    throw new WebhookVerificationError('secret_invalid', 'secret: not whsec_ + base64')
  }
  if (key.length < minBytes) {
    throw new WebhookVerificationError('secret_invalid', `secret: fewer than ${minBytes} bytes`)
  }
  return key
}

/** Whether `secret` is one the sender accepts: `whsec_` + base64 of ≥ 24 bytes (docs/protocol.md §16). */
export function isSenderSecret(secret: string): boolean {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return false
  try {
    secretKey(secret, WEBHOOK_SECRET_MIN_BYTES)
    return true
  } catch {
    return false
  }
}

/** An HMAC-SHA256 key for {@link signWebhook}, imported once per secret. */
export function importWebhookKey(key: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
}

/**
 * The Standard Webhooks signature of one delivery: `v1,` + base64
 * HMAC-SHA256 over `id.timestamp.body`, byte for byte as the
 * `standardwebhooks` package's `Webhook.sign`.
 *
 * @param key - from {@link importWebhookKey}
 * @param id - `webhook-id`
 * @param timestampSeconds - `webhook-timestamp`
 * @param body - the exact body sent
 * @example
 * ```ts
 * const sig = await signWebhook(await importWebhookKey(secretKey(secret)), id, ts, body) // 'v1,…'
 * ```
 */
export async function signWebhook(
  key: CryptoKey,
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<string> {
  const data = new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`)
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, data))
  return `v1,${btoa(String.fromCharCode(...mac))}`
}
