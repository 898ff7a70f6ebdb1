import { WEBHOOK_TOLERANCE_SECONDS } from '../constants.ts'
import { WebhookVerificationError } from './errors.ts'
import { importWebhookKey, secretKey, signWebhook } from './signature.ts'

/** The headers of a delivery: a `Headers` or a plain record (any case). */
export type WebhookHeaders = Headers | Record<string, string | readonly string[] | undefined>

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** Seconds the timestamp may be from now. @default WEBHOOK_TOLERANCE_SECONDS (300) */
  toleranceSeconds?: number
  /** ms clock. @default Date.now */
  now?: () => number
}

/**
 * Verify a Standard Webhooks delivery (docs/protocol.md §16) and return its
 * parsed JSON body: the three `webhook-*` headers must be there, the
 * timestamp within 5 minutes of now, and one of the space-separated `v1,`
 * signatures must match HMAC-SHA256 of `id.timestamp.body` under the
 * secret, compared in constant time. Runs on WebCrypto (Workers, Node,
 * Deno, browsers). Receivers drop repeats by `webhook-id`.
 *
 * @param secret - the endpoint's `whsec_…` secret
 * @param headers - the request's headers
 * @param body - the raw body exactly as received (not re-serialized JSON)
 * @param options - {@link VerifyWebhookOptions}
 * @throws WebhookVerificationError with a `code`
 * @example
 * ```ts
 * const body = await request.text()
 * const event = await verifyWebhook(env.WEBHOOK_SECRET, request.headers, body)
 * ```
 */
export async function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string,
  options: VerifyWebhookOptions = {},
): Promise<unknown> {
  const id = header(headers, 'webhook-id')
  const timestamp = header(headers, 'webhook-timestamp')
  const signatures = header(headers, 'webhook-signature')
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError('headers_missing', 'webhook-* headers missing')
  }
  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new WebhookVerificationError('timestamp_invalid', 'webhook-timestamp: not seconds')
  }
  const seconds = Number(timestamp)
  const now = Math.floor((options.now ?? Date.now)() / 1000)
  const tolerance = options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS
  if (now - seconds > tolerance) {
    throw new WebhookVerificationError('timestamp_too_old', 'webhook-timestamp too old')
  }
  if (seconds - now > tolerance) {
    throw new WebhookVerificationError('timestamp_too_new', 'webhook-timestamp too new')
  }
  const key = await importWebhookKey(secretKey(secret))
  const expected = new TextEncoder().encode(await signWebhook(key, id, seconds, body))
  let matched = false
  for (const candidate of signatures.split(' ')) {
    // Every candidate is compared, so the time does not tell which one matched.
    if (
      candidate.startsWith('v1,') &&
      constantTimeEqual(new TextEncoder().encode(candidate), expected)
    )
      matched = true
  }
  if (!matched) throw new WebhookVerificationError('signature_mismatch', 'no matching signature')
  if (body === '') return undefined
  try {
    return JSON.parse(body)
  } catch {
    throw new WebhookVerificationError('body_invalid', 'body: not JSON')
  }
}

/** One header's value from either form, case-insensitively. */
function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') {
    return (headers as Headers).get(name) ?? undefined
  }
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue
    return typeof value === 'string' ? value : value?.join(' ')
  }
  return undefined
}

/** Equality in time that depends on the lengths only, not on where the bytes differ. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}
