import type { Context } from 'hono'
import { base64url } from 'jose'
import type * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { revokeUserSessionsStatements } from '../accounts/revoke-sessions.ts'
import type { PatchUserBody } from '../accounts/schemas.ts'
import { sendVerification } from '../accounts/verification.ts'
import { emailKey } from '../auth/schemas.ts'
import { findUserByUsername, roomsOf, type UserRow } from '../auth/users.ts'
import { USERS_PAGE_DEFAULT, USERS_PAGE_MAX } from '../constants.ts'
import { log } from '../http/log.ts'
import { mailAfterResponse } from '../mail/send.ts'
import type { AppEnv } from '../types.ts'

/** A user as `GET /admin/users` lists it (docs/protocol.md §13). */
export interface UserView {
  sub: string
  username: string
  email?: string
  emailVerified: boolean
  scope: string
  rooms: string[]
  disabled: boolean
  createdAt: number
  /** How many passkeys the user has (§14). */
  passkeys: number
  /** The providers the user has federated links with (§14), each once, in the order linked. */
  federated: string[]
}

type ListedRow = UserRow & { created_at: number; passkeys: number; federated: string }

const LISTED = `sub, username, password_hash, scope, rooms, disabled_at, email, email_verified_at, created_at,
  (SELECT COUNT(*) FROM passkeys WHERE passkeys.sub = users.sub) AS passkeys,
  (SELECT json_group_array(provider) FROM (SELECT provider FROM federated_links
     WHERE federated_links.sub = users.sub ORDER BY created_at, rowid)) AS federated`

function view(row: ListedRow): UserView {
  return {
    sub: row.sub,
    username: row.username,
    ...(row.email && { email: row.email }),
    emailVerified: !!row.email && !!row.email_verified_at,
    scope: row.scope,
    rooms: roomsOf(row),
    disabled: row.disabled_at !== null,
    createdAt: row.created_at,
    passkeys: row.passkeys,
    federated: providersOf(row.federated),
  }
}

/** The JSON array of provider ids the query built, each once; anything else yields none. */
function providersOf(json: string): string[] {
  try {
    const list: unknown = JSON.parse(json)
    return Array.isArray(list)
      ? [...new Set(list.filter((p): p is string => typeof p === 'string'))]
      : []
  } catch {
    return []
  }
}

/** The cursor is opaque to clients: base64url of `created_at:sub` of the last row listed. */
function readCursor(raw: string | undefined): { createdAt: number; sub: string } | undefined {
  if (raw === undefined || raw === '') return undefined
  let text: string
  try {
    text = new TextDecoder().decode(base64url.decode(raw))
  } catch {
    throw new AppError('invalid_request', 'cursor: not one this endpoint issued')
  }
  const match = /^(\d{1,12}):([\w-]{1,64})$/.exec(text)
  if (!match) throw new AppError('invalid_request', 'cursor: not one this endpoint issued')
  return { createdAt: Number(match[1]), sub: match[2]! }
}

/**
 * `GET /admin/users?limit=&cursor=`: users oldest first, `limit` ≤ 200
 * (default 50); `next` is present while more remain. Deleted users are not listed.
 */
export async function listUsers<E extends AppEnv>(c: Context<E>) {
  const rawLimit = c.req.query('limit')
  const limit = rawLimit === undefined ? USERS_PAGE_DEFAULT : Number(rawLimit)
  if (!/^\d{1,3}$/.test(rawLimit ?? '1') || limit < 1 || limit > USERS_PAGE_MAX)
    throw new AppError('invalid_request', `limit: a whole number from 1 to ${USERS_PAGE_MAX}`)
  const cursor = readCursor(c.req.query('cursor'))
  const { results } = await c.env.DB.prepare(
    `SELECT ${LISTED} FROM users WHERE deleted_at IS NULL AND (created_at, sub) > (?, ?)
     ORDER BY created_at, sub LIMIT ?`,
  )
    .bind(cursor?.createdAt ?? -1, cursor?.sub ?? '', limit + 1)
    .all<ListedRow>()
  const page = results.slice(0, limit)
  const last = page[page.length - 1]
  const next =
    results.length > limit && last
      ? base64url.encode(new TextEncoder().encode(`${last.created_at}:${last.sub}`))
      : undefined
  c.header('Cache-Control', 'no-store')
  return c.json({ users: page.map(view), ...(next !== undefined && { next }) })
}

async function targetUser<E extends AppEnv>(c: Context<E>): Promise<UserRow> {
  const username = c.req.param('username') ?? ''
  const user = username ? await findUserByUsername(c.env.DB, username) : undefined
  if (!user) throw new AppError('not_found', 'no such user')
  return user
}

/**
 * `PATCH /admin/users/:username` with any of `scope`, `rooms`, `email` (null
 * removes it): 200 the user as listed. Access tokens carry the new scope and
 * rooms from the next refresh on; tokens already issued keep theirs until
 * they expire. A new email is unverified and is mailed a verification link.
 */
export async function patchUser<E extends AppEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof PatchUserBody>,
) {
  const now = Math.floor(c.get('now') / 1000)
  const user = await targetUser(c)
  const db = c.env.DB
  const sets: string[] = []
  const values: (string | null)[] = []
  if (body.scope !== undefined) {
    sets.push('scope = ?')
    values.push(body.scope)
  }
  if (body.rooms !== undefined) {
    sets.push('rooms = ?')
    values.push(JSON.stringify(body.rooms))
  }
  const emailChanged = body.email !== undefined && body.email !== user.email
  if (emailChanged) {
    sets.push('email = ?', 'email_key = ?', 'email_verified_at = NULL')
    values.push(body.email ?? null, body.email ? emailKey(body.email) : null)
  }
  if (sets.length > 0) {
    const done = await db
      .prepare(`UPDATE OR IGNORE users SET ${sets.join(', ')} WHERE sub = ? AND deleted_at IS NULL`)
      .bind(...values, user.sub)
      .run()
    if (done.meta.changes === 0) throw new AppError('conflict', 'email taken')
  }
  if (emailChanged && body.email) {
    const email = body.email
    mailAfterResponse(
      c,
      sendVerification(
        c.env,
        c.get('config'),
        { sub: user.sub, username: user.username, email },
        now,
      ),
    )
  }
  const row = await db
    .prepare(`SELECT ${LISTED} FROM users WHERE sub = ?`)
    .bind(user.sub)
    .first<ListedRow>()
  if (!row) throw new AppError('not_found', 'user vanished')
  c.header('Cache-Control', 'no-store')
  return c.json(view(row))
}

/** `POST /admin/users/:username/enable`: 204; the user can log in again (old sessions stay revoked). */
export async function enableUser<E extends AppEnv>(c: Context<E>) {
  const user = await targetUser(c)
  await c.env.DB.prepare('UPDATE users SET disabled_at = NULL WHERE sub = ?').bind(user.sub).run()
  return c.body(null, 204)
}

/**
 * `DELETE /admin/users/:username`: 204. Every session is revoked (with a
 * `user` event), and the personal data is erased: username, email, password
 * hash, mail tokens, passkeys, federated links, the user agents of its sessions. The emptied row stays
 * so the `sub` is never reused; its username is free for a new account,
 * which gets a new `sub`.
 */
export async function deleteUser<E extends AppEnv>(c: Context<E>) {
  const now = Math.floor(c.get('now') / 1000)
  const user = await targetUser(c)
  const db = c.env.DB
  await db.batch([
    ...revokeUserSessionsStatements(db, user.sub, now, 'user_deleted', {
      userEvent: true,
      accessTokenTtlSeconds: c.get('config').accessTokenTtlSeconds,
    }),
    // The username key becomes one no username can produce (a control character leads it).
    db
      .prepare(
        `UPDATE users SET username = '', username_key = char(1) || sub, password_hash = '',
         email = NULL, email_key = NULL, email_verified_at = NULL, scope = '', rooms = '[]',
         disabled_at = COALESCE(disabled_at, ?1), deleted_at = ?1 WHERE sub = ?2`,
      )
      .bind(now, user.sub),
    db.prepare('DELETE FROM mail_tokens WHERE sub = ?').bind(user.sub),
    db.prepare('DELETE FROM passkeys WHERE sub = ?').bind(user.sub),
    db.prepare('DELETE FROM federated_links WHERE sub = ?').bind(user.sub),
    db.prepare('UPDATE sessions SET user_agent = NULL WHERE sub = ?').bind(user.sub),
    db.prepare('UPDATE mail_log SET sub = NULL WHERE sub = ?').bind(user.sub),
  ])
  log('info', 'user deleted', { sub: user.sub })
  return c.body(null, 204)
}
