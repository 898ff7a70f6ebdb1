import type { EdgeConfig } from '../config.ts'
import { emailKey } from '../auth/schemas.ts'
import { linkBase, verifyMail } from '../mail/messages.ts'
import { sendAccountMail, type MailOutcome } from '../mail/send.ts'
import { issueMailToken } from './mail-tokens.ts'

/**
 * Mail a verification link for `email` to the user (sign-up, or an admin
 * setting an email: docs/protocol.md §13 "always mails a verification link").
 *
 * @param env - the worker's bindings
 * @param config - the parsed configuration
 * @param user - the account and the address to verify
 * @param now - Unix seconds
 */
export async function sendVerification(
  env: Env,
  config: EdgeConfig,
  user: { sub: string; username: string; email: string },
  now: number,
): Promise<MailOutcome> {
  const token = await issueMailToken(env.DB, user.sub, 'verify', now, emailKey(user.email))
  const base = linkBase(config.issuer, config.accounts.linkBase)
  return sendAccountMail(env, config, verifyMail(user.email, user.username, base, token), {
    sub: user.sub,
    now,
  })
}
