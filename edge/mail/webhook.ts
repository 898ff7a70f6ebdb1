import { MAIL_WEBHOOK_TIMEOUT_MS } from '../constants.ts'
import type { Mail, MailTransport } from './types.ts'
import { signWebhook } from './webhook-signature.ts'

/** Options of {@link webhookTransport}. */
export interface WebhookTransportOptions {
  /** Where each mail is POSTed (`MAILER_WEBHOOK_URL`). */
  url: string
  /** `MAILER_WEBHOOK_SECRET`: `whsec_` + base64 of ≥ 24 bytes. */
  secret: string
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch
}

/**
 * `MAILER=webhook`: each mail is POSTed as `{ to, subject, text, kind }`,
 * signed as docs/protocol.md §16 signs webhooks. A non-2xx answer is a failure.
 *
 * @param options - {@link WebhookTransportOptions}
 * @throws TypeError when the secret is malformed (at construction)
 */
export function webhookTransport(options: WebhookTransportOptions): MailTransport {
  const send = options.fetch ?? ((input, init) => fetch(input, init))
  if (!options.secret) throw new TypeError('MAILER=webhook needs MAILER_WEBHOOK_SECRET')
  return {
    async send(mail: Mail, now: number) {
      const body = JSON.stringify({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        kind: mail.kind,
      })
      const headers = await signWebhook(options.secret, crypto.randomUUID(), now, body)
      const res = await send(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        signal: AbortSignal.timeout(MAIL_WEBHOOK_TIMEOUT_MS),
      })
      await res.body?.cancel()
      if (!res.ok) throw new Error(`mail webhook answered HTTP ${res.status}`)
    },
  }
}
