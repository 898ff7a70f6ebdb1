import { AppError } from '../../shared/errors.ts'

/** A stored passkey. */
export interface PasskeyRow {
  id: string
  sub: string
  name: string
  public_key: string
  counter: number
  transports: string
  created_at: number
  last_used_at: number | null
}

/** A passkey as `GET /auth/passkeys` lists it (docs/protocol.md §14). */
export interface PasskeyView {
  id: string
  name: string
  createdAt: number
  lastUsedAt: number | null
}

/** The view of a row: never its key or counter. */
export function passkeyView(
  row: Pick<PasskeyRow, 'id' | 'name' | 'created_at' | 'last_used_at'>,
): PasskeyView {
  return { id: row.id, name: row.name, createdAt: row.created_at, lastUsedAt: row.last_used_at }
}

/** Transport hints stored as JSON, read defensively: anything else yields none. */
export function transportsOf(row: Pick<PasskeyRow, 'transports'>): string[] {
  try {
    const t: unknown = JSON.parse(row.transports)
    return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : []
  } catch {
    return []
  }
}

/**
 * A user's passkeys, oldest first.
 *
 * @param db - the D1 binding
 * @param sub - the user
 */
export async function listPasskeys(db: D1Database, sub: string): Promise<PasskeyRow[]> {
  const { results } = await db
    .prepare('SELECT * FROM passkeys WHERE sub = ? ORDER BY created_at, rowid')
    .bind(sub)
    .all<PasskeyRow>()
  return results
}

/**
 * One passkey by credential id.
 *
 * @param db - the D1 binding
 * @param id - the credential id (base64url)
 */
export async function findPasskey(db: D1Database, id: string): Promise<PasskeyRow | undefined> {
  return (
    (await db.prepare('SELECT * FROM passkeys WHERE id = ?').bind(id).first<PasskeyRow>()) ??
    undefined
  )
}

/**
 * The statement that stores a new passkey; it changes nothing when the
 * credential id is already stored (someone else's, or a repeat).
 *
 * @param db - the D1 binding
 * @param row - the passkey; `last_used_at` starts empty
 */
export function insertPasskey(
  db: D1Database,
  row: Omit<PasskeyRow, 'last_used_at'>,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO passkeys (id, sub, name, public_key, counter, transports, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    )
    .bind(row.id, row.sub, row.name, row.public_key, row.counter, row.transports, row.created_at)
}

/**
 * Record a login: the new counter and when, only if the counter is still the
 * one the login checked against, so of two logins racing on one assertion
 * window at most one moves it.
 *
 * @returns whether the row was updated
 */
export async function recordPasskeyUse(
  db: D1Database,
  id: string,
  checkedCounter: number,
  newCounter: number,
  now: number,
): Promise<boolean> {
  const result = await db
    .prepare('UPDATE passkeys SET counter = ?, last_used_at = ? WHERE id = ? AND counter = ?')
    .bind(newCounter, now, id, checkedCounter)
    .run()
  return result.meta.changes > 0
}

/**
 * Delete one of a user's passkeys, unless it is their last way to log in (no
 * password, no other passkey, no federated link): the check and the delete are one statement,
 * so two deletes racing cannot remove both of the last two.
 *
 * @throws AppError `not_found` (not theirs or no such passkey), `conflict` (the last way in)
 */
export async function deletePasskey(db: D1Database, sub: string, id: string): Promise<void> {
  const result = await db
    .prepare(
      `DELETE FROM passkeys WHERE id = ?1 AND sub = ?2 AND (
         EXISTS (SELECT 1 FROM users WHERE sub = ?2 AND password_hash != '')
         OR (SELECT COUNT(*) FROM passkeys WHERE sub = ?2) > 1
         OR EXISTS (SELECT 1 FROM federated_links WHERE sub = ?2))`,
    )
    .bind(id, sub)
    .run()
  if (result.meta.changes > 0) return
  const owned = await db
    .prepare('SELECT 1 AS one FROM passkeys WHERE id = ? AND sub = ?')
    .bind(id, sub)
    .first()
  if (!owned) throw new AppError('not_found', 'no such passkey')
  throw new AppError('conflict', 'the last way to log in cannot be deleted')
}

/**
 * Rename one of a user's passkeys.
 *
 * @throws AppError `not_found`
 */
export async function renamePasskey(
  db: D1Database,
  sub: string,
  id: string,
  name: string,
): Promise<PasskeyView> {
  const row = await db
    .prepare(
      'UPDATE passkeys SET name = ? WHERE id = ? AND sub = ? RETURNING id, name, created_at, last_used_at',
    )
    .bind(name, id, sub)
    .first<PasskeyRow>()
  if (!row) throw new AppError('not_found', 'no such passkey')
  return passkeyView(row)
}
