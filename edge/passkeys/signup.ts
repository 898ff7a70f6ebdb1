import type { Context } from 'hono'
import type * as v from 'valibot'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { AppError, isAppError } from '../../shared/errors.ts'
import { restoreInvite } from '../accounts/invites.ts'
import { admitSignup, spendSignupInvite } from '../accounts/signup.ts'
import { openSession } from '../auth/open-session.ts'
import { usernameKey } from '../auth/schemas.ts'
import { tokenResponse } from '../auth/token-response.ts'
import { createUser, findUserBySub, parseRooms } from '../auth/users.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { issueChallenge, spendChallenge } from './challenges.ts'
import { takeOptionsBudget } from './login.ts'
import { creationOptions, verifyNewPasskey } from './register.ts'
import type { PasskeySignupBody, SignupOptionsBody } from './schemas.ts'
import { findPasskey, insertPasskey } from './store.ts'

/**
 * `POST /auth/passkeys/signup/options { username }` (when `SIGNUP` is not
 * off): creation options for an account that does not exist yet. The
 * challenge carries the username and the `sub` the account will get, which
 * the authenticator stores as the user handle.
 */
export async function signupOptions<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof SignupOptionsBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const config = c.get('config')
  if (config.accounts.signup === 'off') throw new AppError('signup_closed', 'SIGNUP is off')
  await takeOptionsBudget(c, now)
  const sub = crypto.randomUUID()
  const username = body.username.normalize('NFC')
  const { id, challenge } = await issueChallenge(
    c.env.DB,
    'signup',
    { sub, usernameKey: usernameKey(username) },
    now,
  )
  const options = await creationOptions(config.passkeys, { sub, username }, challenge)
  c.header('Cache-Control', 'no-store')
  return c.json({ challengeId: id, options })
}

/**
 * `POST /auth/passkeys/signup`: the sign-up checks of `POST /auth/signup`
 * (mode, address budget, invite), the challenge (a sign-up's, for this
 * username), the registration, then an account with this passkey and no
 * password. 201 with a token response (session method `passkey`).
 */
export async function passkeySignup<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof PasskeySignupBody>,
) {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  // A passkey sign-up carries no email, so EMAIL_VERIFICATION=required refuses it (400).
  await admitSignup(c, { invite: body.invite }, now)
  const spent = await spendChallenge(c.env.DB, 'signup', { id: body.challengeId }, now)
  if (spent.sub === null || spent.username_key !== usernameKey(body.username))
    throw new AppError(
      'invalid_request',
      'challenge unknown, used, expired or for another ceremony',
    )
  const response = body.response as unknown as RegistrationResponseJSON
  const passkey = await verifyNewPasskey(config.passkeys, response, spent.challenge)
  if (await findPasskey(c.env.DB, passkey.id))
    throw new AppError('conflict', 'passkey already registered')
  const grant = await spendSignupInvite(c, body.invite, now)
  try {
    await createUser(
      c.env.DB,
      {
        username: body.username,
        sub: spent.sub,
        scope: grant?.scope ?? config.accounts.signupScope,
        rooms: grant?.rooms ? parseRooms(grant.rooms) : config.accounts.signupRooms,
      },
      now,
    )
  } catch (err) {
    // The invite was not used up by a sign-up that did not happen.
    if (isAppError(err) && err.code === 'conflict' && body.invite !== undefined && grant)
      await restoreInvite(c.env.DB, body.invite)
    throw err
  }
  const row = { ...passkey, sub: spent.sub, name: body.name ?? 'Passkey', created_at: now }
  const inserted = await insertPasskey(c.env.DB, row).run()
  if (inserted.meta.changes === 0) {
    // Another request stored this credential id since the check: no account without a way in.
    await c.env.DB.prepare('DELETE FROM users WHERE sub = ?').bind(spent.sub).run()
    throw new AppError('conflict', 'passkey already registered')
  }
  log('info', 'user signed up', { sub: spent.sub, mode: config.accounts.signup, method: 'passkey' })
  const user = await findUserBySub(c.env.DB, spent.sub)
  if (!user) throw new Error('signed-up user vanished')
  return tokenResponse(c, await openSession(c, user, 'passkey'), 201)
}
