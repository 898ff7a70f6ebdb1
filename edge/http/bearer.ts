import { createMiddleware } from 'hono/factory'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'

/** The secrets that guard endpoints. */
export type SecretName = 'ADMIN_TOKEN' | 'REVOCATION_FEED_TOKEN'

/**
 * Read `Authorization: Bearer <token>`; `undefined` when absent or not Bearer.
 *
 * @param header - the Authorization header
 */
export function readBearer(header: string | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/i.exec(header)
  return match?.[1]
}

/**
 * Middleware that admits a request only with `Authorization: Bearer` equal to
 * the secret `name`. An unset secret answers 503 `unavailable`: an endpoint is
 * never open because someone forgot to configure it. The comparison is
 * constant-time over SHA-256 digests, so neither content nor length leaks.
 *
 * @param name - the binding holding the expected token
 * @example
 * ```ts
 * app.use('/admin/*', requireSecret('ADMIN_TOKEN'))
 * ```
 */
export function requireSecret(name: SecretName) {
  return createMiddleware<AppEnv>(async function requireSecret(c, next) {
    const expected = (c.env as unknown as Record<string, string | undefined>)[name]
    if (!expected) throw new AppError('unavailable', `${name} is not configured`)
    const presented = readBearer(c.req.header('authorization'))
    if (presented === undefined || !(await equalSecrets(presented, expected))) {
      throw new AppError('unauthorized', `${name} bearer missing or wrong`)
    }
    await next()
  })
}

async function equalSecrets(a: string, b: string): Promise<boolean> {
  const encoder = new TextEncoder()
  const [da, db] = await Promise.all([
    crypto.subtle.digest('SHA-256', encoder.encode(a)),
    crypto.subtle.digest('SHA-256', encoder.encode(b)),
  ])
  return crypto.subtle.timingSafeEqual(da, db)
}
