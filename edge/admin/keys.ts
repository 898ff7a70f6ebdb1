import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import type { RotateBody } from '../auth/schemas.ts'
import { log } from '../http/log.ts'
import { removalTime } from '../keys/lifecycle.ts'
import { forgetSigningKey } from '../keys/signer.ts'
import { keyStore } from '../keys/store.ts'
import { revocationStatement } from '../revocations/log.ts'
import type { AppEnv } from '../types.ts'

/** `GET /admin/keys`: the published keys, public parts and lifecycle times only. */
export async function listKeys(c: Context<AppEnv>) {
  const now = Math.floor(c.get('now') / 1000)
  c.header('Cache-Control', 'no-store')
  return c.json({ keys: await keyStore(c.env).list(now) }, 200)
}

/**
 * `POST /admin/keys/rotate`. A normal rotation promotes the next key, and is
 * 409 until that key has been published for `JWKS_MAX_AGE`. An emergency
 * rotation never waits: the active key leaves the JWKS at once and a `key`
 * revocation event covers tokens it signed, including those other isolates
 * mint in the seconds before their key cache expires.
 */
export async function rotateKeys<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof RotateBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const config = c.get('config')
  const result = await keyStore(c.env).rotate(now, body.emergency ? 'emergency' : 'manual')
  if (result.kind === 'conflict') throw new AppError('conflict', result.reason)
  forgetSigningKey()
  if (result.kind === 'rotated' && result.dropped) {
    await revocationStatement(c.env.DB, {
      kind: 'key',
      id: result.dropped,
      at: now,
      until: removalTime(now, config),
    }).run()
    log('warn', 'emergency key rotation', { dropped: result.dropped, active: result.active })
  }
  c.header('Cache-Control', 'no-store')
  return c.json({ active: result.active, next: result.next, retired: result.retired }, 200)
}
