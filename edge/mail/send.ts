import type { Context } from 'hono'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import type { EdgeConfig } from '../config.ts'
import {
  MAIL_WINDOW_SECONDS,
  MAILS_PER_ACCOUNT_PER_HOUR,
  MAILS_PER_ADDRESS_PER_HOUR,
} from '../constants.ts'
import { emailKey } from '../auth/schemas.ts'
import { outboxTransport } from './outbox.ts'
import { sendEmailTransport } from './send-email.ts'
import type { Mail, MailTransport } from './types.ts'
import { webhookTransport } from './webhook.ts'

/** What became of one mail. */
export type MailOutcome = 'sent' | 'limited' | 'failed' | 'no_mailer'

/**
 * The configured transport, or undefined when `MAILER` is unset.
 *
 * @param env - the worker's bindings (`DB`, `SEND_EMAIL`, `MAILER_WEBHOOK_SECRET`)
 * @param config - the parsed configuration
 * @throws TypeError when `MAILER` names a transport whose binding or secret is missing
 */
export function mailTransport(env: Env, config: EdgeConfig): MailTransport | undefined {
  const { mailer, mailerWebhookUrl, mailFrom } = config.accounts
  const vars = env as unknown as Record<string, unknown>
  switch (mailer) {
    case undefined:
      return undefined
    case 'outbox':
      return outboxTransport(env.DB)
    case 'webhook':
      return webhookTransport({
        url: mailerWebhookUrl ?? '',
        secret: typeof vars.MAILER_WEBHOOK_SECRET === 'string' ? vars.MAILER_WEBHOOK_SECRET : '',
      })
    case 'send_email': {
      const binding = vars.SEND_EMAIL as SendEmail | undefined
      if (!binding || typeof binding.send !== 'function')
        throw new TypeError('MAILER=send_email needs a send_email binding named SEND_EMAIL')
      return sendEmailTransport(binding, mailFrom ?? '')
    }
    default: {
      const unhandled: never = mailer
      return unhandled
    }
  }
}

/**
 * Send one account mail within the hourly bounds: at most
 * {@link MAILS_PER_ADDRESS_PER_HOUR} to one address and
 * {@link MAILS_PER_ACCOUNT_PER_HOUR} for one account. A mail past either is
 * dropped and logged, never queued, so a stranger cannot flood a mailbox
 * through forgot-password. A transport failure is logged (never the text,
 * which holds a token) and reported; nothing is retried.
 *
 * @param env - the worker's bindings
 * @param config - the parsed configuration
 * @param mail - the mail
 * @param context - the account it concerns and the clock (Unix seconds)
 */
export async function sendAccountMail(
  env: Env,
  config: EdgeConfig,
  mail: Mail,
  { sub, now }: { sub: string; now: number },
): Promise<MailOutcome> {
  let transport: MailTransport | undefined
  try {
    transport = mailTransport(env, config)
  } catch (err) {
    // A binding or secret missing for the configured MAILER: an operator's problem, logged as one.
    log('error', 'mail transport misconfigured', { kind: mail.kind, error: (err as Error).message })
    return 'failed'
  }
  if (!transport) {
    log('warn', 'mail not sent: MAILER is not set', { kind: mail.kind, sub })
    return 'no_mailer'
  }
  const key = emailKey(mail.to)
  const since = now - MAIL_WINDOW_SECONDS
  const counts = await env.DB.prepare(
    `SELECT (SELECT COUNT(*) FROM mail_log WHERE email_key = ?1 AND at > ?3) AS byAddress,
            (SELECT COUNT(*) FROM mail_log WHERE sub = ?2 AND at > ?3) AS byAccount`,
  )
    .bind(key, sub, since)
    .first<{ byAddress: number; byAccount: number }>()
  if (
    (counts?.byAddress ?? 0) >= MAILS_PER_ADDRESS_PER_HOUR ||
    (counts?.byAccount ?? 0) >= MAILS_PER_ACCOUNT_PER_HOUR
  ) {
    log('warn', 'mail dropped: hourly limit reached', { kind: mail.kind, sub })
    return 'limited'
  }
  await env.DB.prepare('INSERT INTO mail_log (sub, email_key, at) VALUES (?, ?, ?)')
    .bind(sub, key, now)
    .run()
  try {
    await transport.send(mail, now)
    return 'sent'
  } catch (err) {
    log('error', 'mail transport failed', { kind: mail.kind, sub, error: (err as Error).message })
    return 'failed'
  }
}

/**
 * Run mail work after the response (`waitUntil`), so no answer waits on a
 * transport and forgot-password answers in the same time whether or not it
 * mails. A failure is logged, never thrown into the void.
 *
 * @param c - the request context
 * @param work - the mail work, e.g. `sendAccountMail(…)`
 */
export function mailAfterResponse<E extends AppEnv>(c: Context<E>, work: Promise<unknown>): void {
  c.executionCtx.waitUntil(
    work.catch((err: Error) => log('error', 'account mail failed', { error: err.message })),
  )
}
