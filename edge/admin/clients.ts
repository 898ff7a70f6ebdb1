import type { Context } from 'hono'
import * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { NewUsernameSchema } from '../auth/schemas.ts'
import { ClientScopeSchema } from '../clients/scope.ts'
import {
  createClient as create,
  disableClient as disable,
  listClients as list,
} from '../clients/store.ts'
import type { AppEnv } from '../types.ts'

/**
 * `POST /admin/clients` body: a name (the rules of a username: 1–64
 * printable characters) and one or more service scopes (docs/protocol.md §8).
 */
export const CreateClientBody = v.strictObject({
  name: NewUsernameSchema,
  scope: ClientScopeSchema,
})

/**
 * `POST /admin/clients`: 201 `{ client_id, client_secret }`. The only answer
 * that ever carries the secret, so it is marked `no-store`.
 */
export async function createClient<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof CreateClientBody>,
) {
  const created = await create(c.env.DB, body, Math.floor(c.get('now') / 1000))
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  return c.json(created, 201)
}

/** `GET /admin/clients`: 200 `{ clients }`, without secrets or hashes. */
export async function listClients(c: Context<AppEnv>) {
  c.header('Cache-Control', 'no-store')
  return c.json({ clients: await list(c.env.DB) }, 200)
}

/**
 * `POST /admin/clients/:client_id/disable`: 204, and a `client` revocation
 * event ends its live service tokens and grants (docs/protocol.md §6, §8).
 * Disabling a disabled client is 204 again and records nothing new.
 */
export async function disableClient(c: Context<AppEnv>) {
  const clientId = c.req.param('client_id') ?? ''
  const found =
    clientId !== '' && (await disable(c.env.DB, clientId, Math.floor(c.get('now') / 1000)))
  if (!found) throw new AppError('not_found', 'no such client')
  return c.body(null, 204)
}
