import { describe, expect, it } from 'vitest'
import { readAccountsConfig } from '../../../edge/accounts/config.ts'
import { ConfigError } from '../../../edge/config.ts'

const ISSUER = 'http://127.0.0.1:8787'

describe('accounts configuration (docs/protocol.md §13)', () => {
  it('defaults: sign-up off, no verification, no mailer, the local scope and rooms', () => {
    expect(readAccountsConfig({ ISSUER })).toEqual({
      signup: 'off',
      signupScope: 'chat:read chat:write',
      signupRooms: ['lobby'],
      emailVerificationRequired: false,
      mailer: undefined,
      mailerWebhookUrl: undefined,
      mailFrom: undefined,
      linkBase: undefined,
      outboxView: false,
    })
  })

  it.each([
    [{ SIGNUP: 'yes' }, /SIGNUP/],
    [{ EMAIL_VERIFICATION: 'on' }, /EMAIL_VERIFICATION/],
    [{ MAILER: 'smtp' }, /MAILER/],
    [{ MAILER: 'webhook' }, /MAILER_WEBHOOK_URL/],
    [{ MAILER: 'webhook', MAILER_WEBHOOK_URL: 'ftp://x' }, /MAILER_WEBHOOK_URL/],
    [{ MAILER: 'send_email' }, /MAIL_FROM/],
    [{ SIGNUP_SCOPE: 'a  b' }, /SIGNUP_SCOPE/],
    [{ SIGNUP_ROOMS: 'lobby' }, /SIGNUP_ROOMS/],
    [{ SIGNUP_ROOMS: '["bad room"]' }, /SIGNUP_ROOMS/],
    [{ OUTBOX_VIEW: 'open' }, /OUTBOX_VIEW/],
    [{ OUTBOX_VIEW: 'open', MAILER: 'outbox', ISSUER: 'https://auth.example.com' }, /loopback/],
  ])('refuses %j naming the variable', (vars, name) => {
    expect(() => readAccountsConfig({ ISSUER, ...vars })).toThrow(ConfigError)
    expect(() => readAccountsConfig({ ISSUER, ...vars })).toThrow(name)
  })

  it('accepts the outbox view only for a loopback issuer with the outbox', () => {
    expect(readAccountsConfig({ ISSUER, MAILER: 'outbox', OUTBOX_VIEW: 'open' }).outboxView).toBe(
      true,
    )
  })
})
