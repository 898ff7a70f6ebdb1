import type { Context } from 'hono'
import type * as v from 'valibot'
import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
} from '@simplewebauthn/server'
import { isoBase64URL } from '@simplewebauthn/server/helpers'
import { AppError } from '../../shared/errors.ts'
import { awaitsVerification } from '../auth/login.ts'
import { openSession } from '../auth/open-session.ts'
import { clientAddress, loginThrottle } from '../auth/throttle.ts'
import { tokenResponse } from '../auth/token-response.ts'
import { findUserBySub, findUserByUsername } from '../auth/users.ts'
import { PASSKEY_OPTIONS_PER_ADDRESS, PASSKEY_OPTIONS_WINDOW_SECONDS } from '../constants.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { issueChallenge, spendChallenge } from './challenges.ts'
import { reasonOf } from './register.ts'
import type { LoginOptionsBody, PasskeyLoginBody } from './schemas.ts'
import { findPasskey, listPasskeys, recordPasskeyUse, transportsOf } from './store.ts'

/**
 * Take one request from the address's passkey-options budget (every
 * ceremony's options write a challenge row, so they are bounded per address).
 *
 * @throws AppError `rate_limited`
 */
export async function takeOptionsBudget<E extends AppEnv>(
  c: Context<E>,
  now: number,
): Promise<void> {
  const verdict = await loginThrottle(c.env, clientAddress(c.req.raw)).take(
    'passkey_options',
    PASSKEY_OPTIONS_PER_ADDRESS,
    PASSKEY_OPTIONS_WINDOW_SECONDS,
    now,
  )
  if (!verdict.allowed) {
    throw new AppError('rate_limited', 'passkey options throttled for this address', {
      retryAfterSeconds: verdict.retryAfterSeconds,
    })
  }
}

/**
 * `POST /auth/passkeys/login/options`: a login challenge. Without a username
 * the browser offers any discoverable passkey for this RP; with one, that
 * user's passkeys are listed in `allowCredentials` (none for an unknown name).
 */
export async function loginOptions<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof LoginOptionsBody> | undefined,
) {
  const now = Math.floor(c.get('now') / 1000)
  await takeOptionsBudget(c, now)
  let allow: { id: string; transports: AuthenticatorTransport[] }[] | undefined
  if (body?.username !== undefined) {
    const user = await findUserByUsername(c.env.DB, body.username)
    const rows = user ? await listPasskeys(c.env.DB, user.sub) : []
    allow = rows.map((r) => ({
      id: r.id,
      transports: transportsOf(r) as AuthenticatorTransport[],
    }))
  }
  const { id, challenge } = await issueChallenge(c.env.DB, 'login', {}, now)
  const options = await generateAuthenticationOptions({
    rpID: c.get('config').passkeys.rpId,
    challenge: new Uint8Array(isoBase64URL.toBuffer(challenge)),
    userVerification: 'preferred',
    ...(allow && { allowCredentials: allow }),
  })
  c.header('Cache-Control', 'no-store')
  return c.json({ challengeId: id, options })
}

/** Why a passkey login is refused, internally; on the wire every one is `invalid_credentials`. */
type PasskeyLoginFailure =
  | 'unknown_credential'
  | 'bad_assertion'
  | 'counter_regressed'
  | 'user_disabled'
  | 'email_unverified'
  | 'raced'

/**
 * `POST /auth/passkeys/login`: spend the challenge (400 if unknown, used,
 * expired or not a login's), find the credential, verify the assertion
 * (origin, RP id hash, type, signature by the stored key), refuse a
 * signature counter that did not move forward when either side is non-zero
 * (a cloned authenticator: logged as a warning), then open a `passkey` session.
 */
export async function passkeyLogin<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof PasskeyLoginBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const config = c.get('config')
  const spent = await spendChallenge(c.env.DB, 'login', { id: body.challengeId }, now)
  const response = body.response as unknown as AuthenticationResponseJSON
  const passkey = await findPasskey(c.env.DB, response.id)
  if (!passkey) throw refused('unknown_credential', undefined)
  let newCounter: number
  try {
    // The stored counter is checked below, after the signature, so only a
    // genuine assertion can be logged as a cloned authenticator.
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: spent.challenge,
      expectedOrigin: config.passkeys.origins,
      expectedRPID: config.passkeys.rpId,
      credential: {
        id: passkey.id,
        publicKey: isoBase64URL.toBuffer(passkey.public_key),
        counter: 0,
      },
      requireUserVerification: false,
    })
    if (!result.verified) throw new Error('assertion not verified')
    newCounter = result.authenticationInfo.newCounter
  } catch (err) {
    throw refused('bad_assertion', passkey.sub, reasonOf(err))
  }
  if ((newCounter > 0 || passkey.counter > 0) && newCounter <= passkey.counter)
    throw refused('counter_regressed', passkey.sub)
  const user = await findUserBySub(c.env.DB, passkey.sub)
  if (!user || user.disabled_at !== null) throw refused('user_disabled', passkey.sub)
  if (awaitsVerification(user, config.accounts.emailVerificationRequired))
    throw refused('email_unverified', passkey.sub)
  if (!(await recordPasskeyUse(c.env.DB, passkey.id, passkey.counter, newCounter, now)))
    throw refused('raced', passkey.sub)
  return tokenResponse(c, await openSession(c, user, 'passkey'))
}

/**
 * The one place a passkey login failure becomes its error: the client sees
 * `invalid_credentials` whatever the reason; the log names it, and a counter
 * that went backwards is a warning (the credential may have been cloned).
 */
function refused(failure: PasskeyLoginFailure, sub: string | undefined, detail?: string): AppError {
  switch (failure) {
    case 'counter_regressed':
      log('warn', 'passkey counter went backwards: login refused', { sub })
      break
    case 'bad_assertion':
      log('info', 'passkey assertion refused', { sub, reason: detail })
      break
    case 'unknown_credential':
    case 'user_disabled':
    case 'email_unverified':
    case 'raced':
      break
    default: {
      const unhandled: never = failure
      return unhandled
    }
  }
  return new AppError('invalid_credentials', `passkey login refused: ${failure}`)
}
