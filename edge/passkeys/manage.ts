import type { Context } from 'hono'
import type * as v from 'valibot'
import type { AccessClaims } from '../../shared/claims.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import type { RenameBody } from './schemas.ts'
import { deletePasskey, listPasskeys, passkeyView, renamePasskey } from './store.ts'

type ClaimsEnv = AppEnv & { Variables: { claims: AccessClaims } }

/** `GET /auth/passkeys` (bearer): the caller's passkeys, oldest first. */
export async function listMyPasskeys<E extends ClaimsEnv>(c: Context<E>) {
  const rows = await listPasskeys(c.env.DB, c.get('claims').sub)
  c.header('Cache-Control', 'no-store')
  return c.json({ passkeys: rows.map(passkeyView) })
}

/** `DELETE /auth/passkeys/:id` (bearer): 204; 404 if not theirs; 409 for their last way to log in. */
export async function deleteMyPasskey<E extends ClaimsEnv>(c: Context<E>) {
  const sub = c.get('claims').sub
  await deletePasskey(c.env.DB, sub, c.req.param('id') ?? '')
  log('info', 'passkey deleted', { sub })
  return c.body(null, 204)
}

/** `PATCH /auth/passkeys/:id { name }` (bearer): 200 with the renamed passkey; 404 if not theirs. */
export async function renameMyPasskey<E extends ClaimsEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof RenameBody>,
) {
  const view = await renamePasskey(
    c.env.DB,
    c.get('claims').sub,
    c.req.param('id') ?? '',
    body.name,
  )
  c.header('Cache-Control', 'no-store')
  return c.json(view)
}
