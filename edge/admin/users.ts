import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import type { CreateUserBody } from '../auth/schemas.ts'
import { disableUser as disable } from '../auth/sessions.ts'
import { createUser as create, findUserByUsername } from '../auth/users.ts'
import type { AppEnv } from '../types.ts'

/** `POST /admin/users`: 201 `{ sub }`, 409 when the username is taken. */
export async function createUser<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof CreateUserBody>,
) {
  const { sub } = await create(c.env.DB, body, Math.floor(c.get('now') / 1000))
  return c.json({ sub }, 201)
}

/** `POST /admin/users/:username/disable`: 204, and every session of the user is revoked. */
export async function disableUser(c: Context<AppEnv>) {
  const username = c.req.param('username') ?? ''
  const user = username ? await findUserByUsername(c.env.DB, username) : undefined
  if (!user) throw new AppError('not_found', 'no such user')
  await disable(
    c.env.DB,
    user.sub,
    Math.floor(c.get('now') / 1000),
    c.get('config').accessTokenTtlSeconds,
  )
  return c.body(null, 204)
}
