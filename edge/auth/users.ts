import { AppError } from '../../shared/errors.ts'
import { hashPassword } from './password.ts'
import { emailKey, normalizePassword, usernameKey } from './schemas.ts'

/** The `password_hash` of an account without a password (a passkey-only sign-up): no password matches it. */
export const NO_PASSWORD = ''

/** A user row. */
export interface UserRow {
  sub: string
  username: string
  password_hash: string
  scope: string
  rooms: string
  disabled_at: number | null
  /** The account's email, if any (docs/protocol.md §13); absent where a query does not select it. */
  email?: string | null
  /** When the email was verified. */
  email_verified_at?: number | null
}

const USER_COLUMNS =
  'sub, username, password_hash, scope, rooms, disabled_at, email, email_verified_at'

/**
 * Find a user by the name they log in with.
 *
 * @param db - the D1 binding
 * @param username - as sent; normalized here
 */
export async function findUserByUsername(
  db: D1Database,
  username: string,
): Promise<UserRow | undefined> {
  const row = await db
    .prepare(`SELECT ${USER_COLUMNS} FROM users WHERE username_key = ? AND deleted_at IS NULL`)
    .bind(usernameKey(username))
    .first<UserRow>()
  return row ?? undefined
}

/**
 * Find a user by `sub`.
 *
 * @param db - the D1 binding
 * @param sub - the user id
 */
export async function findUserBySub(db: D1Database, sub: string): Promise<UserRow | undefined> {
  const row = await db
    .prepare(`SELECT ${USER_COLUMNS} FROM users WHERE sub = ? AND deleted_at IS NULL`)
    .bind(sub)
    .first<UserRow>()
  return row ?? undefined
}

/**
 * Find a user by email (compared by {@link emailKey}).
 *
 * @param db - the D1 binding
 * @param email - as sent
 */
export async function findUserByEmail(db: D1Database, email: string): Promise<UserRow | undefined> {
  const row = await db
    .prepare(`SELECT ${USER_COLUMNS} FROM users WHERE email_key = ? AND deleted_at IS NULL`)
    .bind(emailKey(email))
    .first<UserRow>()
  return row ?? undefined
}

/** Input of {@link createUser}. */
export interface NewUser {
  username: string
  /** Absent for a passkey-only account, which has no password (stored as {@link NO_PASSWORD}). */
  password?: string | undefined
  /** The `sub` to create it with (a passkey sign-up gave it to the authenticator already); else a fresh random one. */
  sub?: string | undefined
  scope: string
  rooms: string[]
  /** An email, unverified until its link is used. */
  email?: string | undefined
}

/**
 * Create a user with a fresh random `sub`.
 *
 * @throws AppError `conflict` when the username (after normalization) or the email is taken
 */
export async function createUser(
  db: D1Database,
  user: NewUser,
  now: number,
): Promise<{ sub: string }> {
  const sub = user.sub ?? crypto.randomUUID()
  const hash =
    user.password === undefined ? NO_PASSWORD : await hashPassword(normalizePassword(user.password))
  const username = user.username.normalize('NFC')
  const result = await db
    .prepare(
      `INSERT INTO users (sub, username, username_key, password_hash, scope, rooms, created_at, email, email_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(
      sub,
      username,
      usernameKey(username),
      hash,
      user.scope,
      JSON.stringify(user.rooms),
      now,
      user.email ?? null,
      user.email === undefined ? null : emailKey(user.email),
    )
    .run()
  if (result.meta.changes === 0) throw new AppError('conflict', 'username or email taken')
  return { sub }
}

/**
 * Replace a user's password hash (the login path's rehash on raised parameters).
 * Only replaces the hash it verified, so a concurrent password change wins.
 */
export async function replacePasswordHash(
  db: D1Database,
  sub: string,
  oldHash: string,
  newHash: string,
): Promise<void> {
  await db
    .prepare('UPDATE users SET password_hash = ? WHERE sub = ? AND password_hash = ?')
    .bind(newHash, sub, oldHash)
    .run()
}

/**
 * The rooms claim of a user, parsed defensively: a corrupt row yields no rooms.
 */
export function roomsOf(user: UserRow): string[] {
  return parseRooms(user.rooms)
}

/** A stored JSON array of room patterns, parsed defensively: anything else yields no rooms. */
export function parseRooms(json: string): string[] {
  try {
    const rooms: unknown = JSON.parse(json)
    return Array.isArray(rooms) ? rooms.filter((r): r is string => typeof r === 'string') : []
  } catch {
    return []
  }
}
