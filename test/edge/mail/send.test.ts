import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { readConfig } from '../../../edge/config.ts'
import {
  MAILS_PER_ACCOUNT_PER_HOUR,
  MAILS_PER_ADDRESS_PER_HOUR,
  MAIL_WINDOW_SECONDS,
} from '../../../edge/constants.ts'
import { mailTransport, sendAccountMail } from '../../../edge/mail/send.ts'
import { sendEmailTransport } from '../../../edge/mail/send-email.ts'

const outboxEnv = { ...env, MAILER: 'outbox' } as unknown as Env
const config = readConfig(outboxEnv)
const NOW = 1_900_000_000

function mail(to: string) {
  return { to, subject: 'Hi', text: 'Body', kind: 'notice' as const }
}

async function outboxCount(to: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM outbox WHERE to_addr = ?')
    .bind(to)
    .first<{ n: number }>()
  return row?.n ?? 0
}

describe('sendAccountMail: hourly bounds', () => {
  it(`sends ${MAILS_PER_ADDRESS_PER_HOUR} mails an hour to one address, drops the rest, and sends again after the window`, async () => {
    const to = `limit-${crypto.randomUUID()}@example.test`
    const outcomes = []
    for (let i = 0; i <= MAILS_PER_ADDRESS_PER_HOUR; i++)
      outcomes.push(
        await sendAccountMail(outboxEnv, config, mail(to), { sub: crypto.randomUUID(), now: NOW }),
      )
    expect(outcomes).toEqual([...Array(MAILS_PER_ADDRESS_PER_HOUR).fill('sent'), 'limited'])
    expect(await outboxCount(to)).toBe(MAILS_PER_ADDRESS_PER_HOUR)
    expect(
      await sendAccountMail(outboxEnv, config, mail(to), {
        sub: crypto.randomUUID(),
        now: NOW + MAIL_WINDOW_SECONDS + 1,
      }),
    ).toBe('sent')
  })

  it(`sends ${MAILS_PER_ACCOUNT_PER_HOUR} mails an hour for one account, whatever the addresses`, async () => {
    const sub = crypto.randomUUID()
    const outcomes = []
    for (let i = 0; i <= MAILS_PER_ACCOUNT_PER_HOUR; i++)
      outcomes.push(
        await sendAccountMail(outboxEnv, config, mail(`acct-${crypto.randomUUID()}@example.test`), {
          sub,
          now: NOW,
        }),
      )
    expect(outcomes.at(-1)).toBe('limited')
    expect(outcomes.filter((o) => o === 'sent')).toHaveLength(MAILS_PER_ACCOUNT_PER_HOUR)
  })

  it('sends nothing (and says so) when MAILER is unset', async () => {
    expect(
      await sendAccountMail(env, readConfig(env), mail('x@example.test'), { sub: 's', now: NOW }),
    ).toBe('no_mailer')
  })
})

describe('mailTransport', () => {
  it('refuses MAILER=send_email without a SEND_EMAIL binding (TypeError)', () => {
    const e = { ...env, MAILER: 'send_email', MAIL_FROM: 'noreply@example.test' } as unknown as Env
    expect(() => mailTransport(e, readConfig(e))).toThrow(TypeError)
  })

  it('reports a misconfigured transport as a failed mail, never a thrown error', async () => {
    const e = { ...env, MAILER: 'send_email', MAIL_FROM: 'noreply@example.test' } as unknown as Env
    expect(
      await sendAccountMail(e, readConfig(e), mail('x@example.test'), { sub: 's', now: NOW }),
    ).toBe('failed')
  })

  it('sends through the send_email binding with the builder form', async () => {
    const sent: unknown[] = []
    const binding = {
      send: async (message: unknown) => {
        sent.push(message)
        return { messageId: 'm1' }
      },
    } as unknown as SendEmail
    await sendEmailTransport(binding, 'noreply@example.test').send(mail('a@example.test'), NOW)
    expect(sent).toEqual([
      { from: 'noreply@example.test', to: 'a@example.test', subject: 'Hi', text: 'Body' },
    ])
  })
})
