import type { Mail, MailTransport } from './types.ts'

/**
 * `MAILER=send_email`: Cloudflare Email Routing's `send_email` binding
 * (`SEND_EMAIL` in wrangler.toml), sent with the binding's builder form
 * `send({ from, to, subject, text })`. Cloudflare delivers only to verified
 * destination addresses of the account, or through Email Service.
 *
 * @param binding - the `SEND_EMAIL` binding
 * @param from - the sender (`MAIL_FROM`)
 */
export function sendEmailTransport(binding: SendEmail, from: string): MailTransport {
  return {
    async send(mail: Mail) {
      await binding.send({ from, to: mail.to, subject: mail.subject, text: mail.text })
    },
  }
}
