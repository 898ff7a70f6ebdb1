import type { Context } from 'hono'
import type * as v from 'valibot'
import * as vb from 'valibot'
import { AppError, isAppError } from '../../shared/errors.ts'
import { NewUsernameSchema } from '../auth/schemas.ts'
import { clientAddress, loginThrottle } from '../auth/throttle.ts'
import { createUser, findUserBySub, type UserRow } from '../auth/users.ts'
import { SIGNUP_WINDOW_SECONDS, SIGNUPS_PER_ADDRESS } from '../constants.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import type { FederationProvider } from './config.ts'
import { findLink, insertLink } from './links.ts'

/** Tries at a free username before the sign-up gives up (`conflict`). */
const USERNAME_ATTEMPTS = 5

/** Longest base of a derived username, in characters (a suffix may follow). */
const USERNAME_BASE_MAX_CHARS = 32

/**
 * The username a federated sign-up asks for first: the upstream
 * `preferred_username`, else the local part of its email, else the
 * provider's id. Reduced to `A-Z a-z 0-9 . _ -`. The email itself is never
 * copied to the account: it is the provider's claim, not verified by us, and
 * an email must never link or collide with an existing account.
 *
 * @param claims - the verified ID token's claims
 * @param provider - the provider (its id is the last resort)
 * @example
 * ```ts
 * usernameBase({ preferred_username: 'Dana Smith' }, provider) // 'DanaSmith'
 * ```
 */
export function usernameBase(
  claims: Record<string, unknown>,
  provider: FederationProvider,
): string {
  const candidates = [claims.preferred_username, claims.nickname, emailLocal(claims.email)]
  for (const raw of candidates) {
    if (typeof raw !== 'string') continue
    const cleaned = raw.replace(/[^A-Za-z0-9._-]/g, '').slice(0, USERNAME_BASE_MAX_CHARS)
    if (/^[A-Za-z0-9]/.test(cleaned)) return cleaned
  }
  return `${provider.id}-user`
}

function emailLocal(email: unknown): string | undefined {
  return typeof email === 'string' ? email.split('@')[0] : undefined
}

/**
 * Create a user for an upstream account with no link, and link it. Allowed
 * only when the provider has `allowSignup` and `SIGNUP` is `open` (an
 * `invite` sign-up needs an invite, which a redirect cannot carry), within
 * the address's sign-up budget. The account has no password and no email.
 *
 * @param c - the request context
 * @param provider - the provider the upstream account is at
 * @param upstream - its `sub` and the ID token's claims
 * @param now - Unix seconds
 * @throws AppError `signup_closed`, `rate_limited`, `conflict`
 * @example
 * ```ts
 * const user = await federatedSignup(c, provider, { sub: idToken.sub, claims: idToken }, now)
 * ```
 */
export async function federatedSignup<E extends AppEnv>(
  c: Context<E>,
  provider: FederationProvider,
  upstream: { sub: string; claims: Record<string, unknown> },
  now: number,
): Promise<UserRow> {
  const { accounts } = c.get('config')
  if (!provider.allowSignup) throw new AppError('signup_closed', 'provider does not allow sign-up')
  if (accounts.signup !== 'open')
    throw new AppError('signup_closed', `SIGNUP is ${accounts.signup}`)
  const budget = await loginThrottle(c.env, clientAddress(c.req.raw)).take(
    'signup',
    SIGNUPS_PER_ADDRESS,
    SIGNUP_WINDOW_SECONDS,
    now,
  )
  if (!budget.allowed)
    throw new AppError('rate_limited', 'sign-up throttled for this address', {
      retryAfterSeconds: budget.retryAfterSeconds,
    })
  const base = usernameBase(upstream.claims, provider)
  let sub: string | undefined
  for (let attempt = 0; attempt < USERNAME_ATTEMPTS && sub === undefined; attempt++) {
    const username = attempt === 0 ? base : `${base}-${randomSuffix()}`
    if (!vb.is(NewUsernameSchema as v.GenericSchema, username)) continue
    try {
      ;({ sub } = await createUser(
        c.env.DB,
        { username, scope: accounts.signupScope, rooms: accounts.signupRooms },
        now,
      ))
    } catch (err) {
      if (!(isAppError(err) && err.code === 'conflict')) throw err
    }
  }
  if (sub === undefined) throw new AppError('conflict', 'no free username for the new account')
  try {
    await insertLink(c.env.DB, { provider: provider.id, upstreamSub: upstream.sub, sub }, now)
  } catch (err) {
    // Another callback linked this upstream account since we looked: no account without a way in.
    await c.env.DB.prepare('DELETE FROM users WHERE sub = ?').bind(sub).run()
    const winner = await findLink(c.env.DB, provider.id, upstream.sub)
    const user = winner && (await findUserBySub(c.env.DB, winner.sub))
    if (user) return user
    throw err
  }
  log('info', 'user signed up', {
    sub,
    mode: accounts.signup,
    method: 'federated',
    provider: provider.id,
  })
  const user = await findUserBySub(c.env.DB, sub)
  if (!user) throw new Error('signed-up user vanished')
  return user
}

function randomSuffix(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')
}
