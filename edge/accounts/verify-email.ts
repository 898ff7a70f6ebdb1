import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { openSession } from '../auth/open-session.ts'
import { tokenResponse } from '../auth/token-response.ts'
import { findUserBySub } from '../auth/users.ts'
import type { AppEnv } from '../types.ts'
import { peekMailToken, spendMailTokenStatement } from './mail-tokens.ts'
import type { TokenBody } from './schemas.ts'

/**
 * `POST /auth/email/verify` with the token from the mail: marks the address
 * verified (only if it is still the account's address) and logs the user in
 * (200 token response). 401 `invalid_grant` for an unknown, used or expired
 * token, or a disabled account.
 */
export async function verifyEmail<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof TokenBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const row = await peekMailToken(c.env.DB, body.token, 'verify', now)
  const user = row ? await findUserBySub(c.env.DB, row.sub) : undefined
  if (!row || !user || user.disabled_at !== null)
    throw new AppError('invalid_grant', 'verification token unknown, used or expired')
  const [spent] = await c.env.DB.batch([
    await spendMailTokenStatement(c.env.DB, body.token, 'verify', now),
    c.env.DB.prepare(
      `UPDATE users SET email_verified_at = ?1 WHERE sub = ?2 AND email_key = ?3 AND changes() = 1`,
    ).bind(now, row.sub, row.email_key),
  ])
  if ((spent?.meta.changes ?? 0) !== 1)
    throw new AppError('invalid_grant', 'verification token already used')
  return tokenResponse(c, await openSession(c, { ...user, email_verified_at: now }))
}
