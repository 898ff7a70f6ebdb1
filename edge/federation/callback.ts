import type { Context } from 'hono'
import { AppError, isAppError, type EdgeErrorCode } from '../../shared/errors.ts'
import { awaitsVerification } from '../auth/login.ts'
import { openSession } from '../auth/open-session.ts'
import { setRefreshCookie } from '../auth/refresh-cookie.ts'
import { findUserBySub, type UserRow } from '../auth/users.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { exchangeCode } from './exchange.ts'
import {
  clearFlowCookie,
  flowKey,
  openFlow,
  readFlowCookie,
  type FlowState,
} from './flow-cookie.ts'
import { findLink, insertLink, spendFlow, touchLinkStatement } from './links.ts'
import { providerClient } from './provider.ts'
import { federatedSignup } from './signup.ts'
import { providerOf, redirectUri } from './start.ts'

/**
 * `GET /auth/federated/:id/callback` (docs/protocol.md §14). The flow cookie
 * must be ours (signature), unexpired, for this provider and not used
 * before; without such a cookie there is no trusted `return_to`, so the
 * answer is a plain 400. From then on every outcome is a redirect to the
 * flow's `return_to`: on success with the refresh cookie set (a login) or
 * the link stored (a link), on failure with `?error=CODE`.
 */
export async function federatedCallback<E extends AppEnv>(c: Context<E>) {
  const provider = providerOf(c)
  const now = Math.floor(c.get('now') / 1000)
  const sealed = readFlowCookie(c)
  clearFlowCookie(c)
  c.header('Cache-Control', 'no-store')
  c.header('Referrer-Policy', 'no-referrer')
  if (!sealed) throw new AppError('invalid_request', 'federated callback without a flow cookie')
  const opened = await openFlow(sealed, await flowKey(c.env.KEY_ENCRYPTION_KEY), now)
  if (!opened.ok) {
    log('warn', 'federated callback: flow cookie refused', { reason: opened.reason })
    throw new AppError('invalid_request', `flow cookie refused: ${opened.reason}`)
  }
  const flow = opened.flow
  if (flow.provider !== provider.id)
    throw new AppError('invalid_request', 'flow cookie is for another provider')
  try {
    if (!(await spendFlow(c.env.DB, flow.state, flow.exp))) {
      log('warn', 'federated callback replayed', { provider: provider.id })
      throw new AppError('invalid_grant', 'flow already completed')
    }
    const pc = await providerClient(provider, { now: c.get('now') })
    const upstream = await exchangeCode(
      pc,
      flow,
      new URL(c.req.url),
      redirectUri(c.get('config').issuer, provider.id),
    )
    if (flow.linkSub !== undefined) {
      await linkAccount(c, flow, flow.linkSub, upstream.sub, now)
      return c.redirect(flow.returnTo, 302)
    }
    const link = await findLink(c.env.DB, provider.id, upstream.sub)
    let user: UserRow | undefined
    if (link) {
      user = await findUserBySub(c.env.DB, link.sub)
      await touchLinkStatement(c.env.DB, provider.id, upstream.sub, now).run()
    } else {
      user = await federatedSignup(c, provider, upstream, now)
    }
    if (!user || user.disabled_at !== null) {
      log('info', 'federated login refused: user disabled', { sub: link?.sub })
      throw new AppError('invalid_credentials', 'federated login refused: user disabled')
    }
    if (awaitsVerification(user, c.get('config').accounts.emailVerificationRequired))
      throw new AppError('invalid_credentials', 'federated login refused: email unverified')
    // DPoP (docs/protocol.md §15, RFC 9449 §10): the key the page named at /start binds the
    // session; the page then refreshes through the cookie with a proof by that key.
    const grant = await openSession(c, user, 'federated', { jkt: flow.jkt })
    setRefreshCookie(c, grant.refreshToken, grant.expiresAt - now)
    log('info', 'federated login', { sub: user.sub, provider: provider.id })
    return c.redirect(flow.returnTo, 302)
  } catch (err) {
    if (!isAppError(err)) throw err
    return c.redirect(withError(flow.returnTo, err.code as EdgeErrorCode), 302)
  }
}

/** Link the upstream account to the flow's user, who must still exist and be enabled. */
async function linkAccount<E extends AppEnv>(
  c: Context<E>,
  flow: FlowState,
  sub: string,
  upstreamSub: string,
  now: number,
): Promise<void> {
  const user = await findUserBySub(c.env.DB, sub)
  if (!user || user.disabled_at !== null)
    throw new AppError('invalid_credentials', 'link refused: user disabled or deleted')
  await insertLink(c.env.DB, { provider: flow.provider, upstreamSub, sub }, now)
  log('info', 'federated account linked', { sub, provider: flow.provider })
}

/** `returnTo` with `error=CODE` added to its query (it is one of ALLOWED_RETURN_URLS). */
function withError(returnTo: string, code: EdgeErrorCode): string {
  const url = new URL(returnTo)
  url.searchParams.set('error', code)
  return url.href
}
