import type { Context } from 'hono'
import * as v from 'valibot'
import type { AccessClaims } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { RETURN_URL_MAX_CHARS } from '../constants.ts'
import type { AppEnv } from '../types.ts'
import { hasRoomForLink } from './links.ts'
import { allowedReturnTo, beginFlow, providerOf, takeStartBudget } from './start.ts'

type ClaimsEnv = AppEnv & { Variables: { claims: AccessClaims } }

/** `POST /auth/federated/:id/link` */
export const LinkBody = v.strictObject({
  return_to: v.pipe(v.string(), v.maxLength(RETURN_URL_MAX_CHARS)),
})

/**
 * `POST /auth/federated/:id/link { return_to }` (bearer): 200 `{ url }`, the
 * provider's authorization URL, and the flow cookie on this response. The
 * browser that asked goes to `url`; the callback links the upstream account
 * to the caller. The cookie, not the URL, carries who is linking, so a
 * leaked URL cannot link someone else's upstream account to the caller.
 */
export async function federatedLink<E extends ClaimsEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof LinkBody>,
) {
  const provider = providerOf(c)
  const returnTo = allowedReturnTo(c, body.return_to)
  const sub = c.get('claims').sub
  await takeStartBudget(c, Math.floor(c.get('now') / 1000))
  if (!(await hasRoomForLink(c.env.DB, sub)))
    throw new AppError('conflict', 'as many federated links as allowed')
  const url = await beginFlow(c, provider, { returnTo, linkSub: sub })
  c.header('Cache-Control', 'no-store')
  return c.json({ url })
}
