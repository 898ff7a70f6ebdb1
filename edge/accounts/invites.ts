import type { Context } from 'hono'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { hashRefreshToken as hashToken, newRefreshToken as newToken } from '../auth/sessions.ts'
import { INVITE_DEFAULT_TTL_SECONDS, INVITES_OUTSTANDING_MAX } from '../constants.ts'
import type { AppEnv } from '../types.ts'
import type { InviteBody } from './schemas.ts'

/** What an invite grants, once spent. */
export interface InviteGrant {
  scope: string | null
  rooms: string | null
}

/**
 * `POST /admin/invites`: 201 `{ invite, expires_in }`. The invite is 256
 * random bits, stored only as its SHA-256, single use. At most
 * {@link INVITES_OUTSTANDING_MAX} may be outstanding (unused, unexpired): past
 * it, 409 `conflict`.
 */
export async function createInvite<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof InviteBody> | undefined,
) {
  const now = Math.floor(c.get('now') / 1000)
  const ttl = body?.ttl ?? INVITE_DEFAULT_TTL_SECONDS
  const invite = newToken()
  const inserted = await c.env.DB.prepare(
    `INSERT INTO invites (invite_hash, scope, rooms, created_at, expires_at)
       SELECT ?1, ?2, ?3, ?4, ?5
       WHERE (SELECT COUNT(*) FROM invites WHERE used_at IS NULL AND expires_at > ?4) < ?6`,
  )
    .bind(
      await hashToken(invite),
      body?.scope ?? null,
      body?.rooms === undefined ? null : JSON.stringify(body.rooms),
      now,
      now + ttl,
      INVITES_OUTSTANDING_MAX,
    )
    .run()
  if (inserted.meta.changes === 0) throw new AppError('conflict', 'too many outstanding invites')
  c.header('Cache-Control', 'no-store')
  return c.json({ invite, expires_in: ttl }, 201)
}

/**
 * Spend an invite: one conditional UPDATE, so of two sign-ups racing with one
 * invite exactly one wins.
 *
 * @returns what it grants, or undefined for an unknown, used or expired invite
 */
export async function spendInvite(
  db: D1Database,
  invite: string,
  now: number,
): Promise<InviteGrant | undefined> {
  const row = await db
    .prepare(
      `UPDATE invites SET used_at = ?2 WHERE invite_hash = ?1 AND used_at IS NULL AND expires_at > ?2
       RETURNING scope, rooms`,
    )
    .bind(await hashToken(invite), now)
    .first<InviteGrant>()
  return row ?? undefined
}

/** Give back an invite whose sign-up failed after spending it (a taken username). */
export async function restoreInvite(db: D1Database, invite: string): Promise<void> {
  await db
    .prepare('UPDATE invites SET used_at = NULL WHERE invite_hash = ?')
    .bind(await hashToken(invite))
    .run()
}
