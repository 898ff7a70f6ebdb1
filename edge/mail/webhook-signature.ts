/**
 * Standard Webhooks signing (docs/protocol.md §16): `webhook-signature` is
 * `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the bytes
 * of the secret (`whsec_` + base64). Kept to this one small module so the
 * verifier of §16 can share it.
 */

/** The three headers of a signed webhook request. */
export interface WebhookHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

const PREFIX = 'whsec_'

/**
 * The key bytes of a `whsec_` secret.
 *
 * @throws TypeError when the secret is not `whsec_` + base64 of at least 24 bytes
 */
export function webhookSecretBytes(secret: string): Uint8Array<ArrayBuffer> {
  if (!secret.startsWith(PREFIX)) throw new TypeError('webhook secret must start with whsec_')
  let bytes: Uint8Array<ArrayBuffer>
  try {
    bytes = Uint8Array.from(atob(secret.slice(PREFIX.length)), (ch) => ch.charCodeAt(0))
  } catch {
    throw new TypeError('webhook secret must be whsec_ + base64')
  }
  if (bytes.length < 24) throw new TypeError('webhook secret must hold at least 24 bytes')
  return bytes
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
  const key = await crypto.subtle.importKey(
    'raw',
    webhookSecretBytes(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['sign'],
  )
  const mac = await crypto.subtle.sign(
    'HMAC',
    key,
    new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`),
  )
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': `v1,${btoa(String.fromCharCode(...new Uint8Array(mac)))}`,
  }
}
