import type { Context } from 'hono'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from '../types.ts'
import { listRevocations } from './log.ts'

/**
 * `GET /auth/revocations?after=N` (behind the feed token): events after
 * cursor N that are still in force, and the cursor to ask from next.
 */
export async function revocationFeed(c: Context<AppEnv>) {
  const raw = c.req.query('after') ?? '0'
  if (!/^\d{1,15}$/.test(raw))
    throw new AppError('invalid_request', 'after: expected a non-negative integer')
  const page = await listRevocations(c.env.DB, Number(raw), Math.floor(c.get('now') / 1000))
  c.header('Cache-Control', 'no-store')
  return c.json(page, 200)
}
