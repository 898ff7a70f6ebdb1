/** Why {@link verifyWebhook} refused a delivery. */
export type WebhookVerificationErrorCode =
  | 'headers_missing'
  | 'timestamp_invalid'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'signature_mismatch'
  | 'secret_invalid'
  | 'body_invalid'

/**
 * A webhook delivery that did not verify, with a stable `code`. The message
 * names the failed check, never the secret, the signature or the body.
 *
 * @example
 * ```ts
 * try { await verifyWebhook(secret, request.headers, body) }
 * catch (err) { if (err instanceof WebhookVerificationError) return new Response(null, { status: 400 }) }
 * ```
 */
export class WebhookVerificationError extends Error {
  readonly code: WebhookVerificationErrorCode

  constructor(code: WebhookVerificationErrorCode, message: string) {
    super(message)
    this.name = this.constructor.name
    this.code = code
  }
}
