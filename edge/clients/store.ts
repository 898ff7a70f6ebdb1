import { revocationUntil } from '../auth/sessions.ts'
import { CLIENT_REVOCATION_TTL_SECONDS, CLIENTS_LIST_MAX } from '../constants.ts'
import { hashClientSecret, newClientSecret } from './secret.ts'

/** A service client as stored (docs/protocol.md §8). */
export interface ClientRow {
  client_id: string
  name: string
  scope: string
  secret_hash: string
  created_at: number
  disabled_at: number | null
}

/** A service client as the admin API lists it: never the secret or its hash. */
export interface ClientSummary {
  client_id: string
  name: string
  scope: string
  createdAt: number
  disabled: boolean
}

/**
 * Create a service client with a new random secret.
 *
 * @param db - the D1 binding
 * @param client - its name and (normalized) scope
 * @param now - Unix seconds
 * @returns the id and the secret, which exists nowhere else from here on
 */
export async function createClient(
  db: D1Database,
  client: { name: string; scope: string },
  now: number,
): Promise<{ client_id: string; client_secret: string }> {
  const clientId = crypto.randomUUID()
  const secret = newClientSecret()
  await db
    .prepare(
      'INSERT INTO clients (client_id, name, scope, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)',
    )
    .bind(clientId, client.name, client.scope, await hashClientSecret(secret), now)
    .run()
  return { client_id: clientId, client_secret: secret }
}

/**
 * The service clients, oldest first, at most `CLIENTS_LIST_MAX`.
 *
 * @param db - the D1 binding
 */
export async function listClients(db: D1Database): Promise<ClientSummary[]> {
  const { results } = await db
    .prepare(
      `SELECT client_id, name, scope, created_at, disabled_at FROM clients
       ORDER BY created_at, client_id LIMIT ?`,
    )
    .bind(CLIENTS_LIST_MAX)
    .all<Omit<ClientRow, 'secret_hash'>>()
  return results.map((r) => ({
    client_id: r.client_id,
    name: r.name,
    scope: r.scope,
    createdAt: r.created_at,
    disabled: r.disabled_at !== null,
  }))
}

/**
 * One client by id, or undefined.
 *
 * @param db - the D1 binding
 * @param clientId - as presented
 */
export async function findClient(db: D1Database, clientId: string): Promise<ClientRow | undefined> {
  const row = await db
    .prepare('SELECT * FROM clients WHERE client_id = ?')
    .bind(clientId)
    .first<ClientRow>()
  return row ?? undefined
}

/**
 * Disable a client and, if this call is the one that disabled it, record a
 * `client` revocation event in the same transaction (docs/protocol.md §6).
 *
 * @param db - the D1 binding
 * @param clientId - the client
 * @param now - Unix seconds
 * @returns false when there is no such client
 */
export async function disableClient(
  db: D1Database,
  clientId: string,
  now: number,
): Promise<boolean> {
  const [update] = await db.batch([
    db
      .prepare('UPDATE clients SET disabled_at = ? WHERE client_id = ? AND disabled_at IS NULL')
      .bind(now, clientId),
    db
      .prepare(
        `INSERT INTO revocations (kind, id, at, until) SELECT 'client', ?, ?, ? WHERE changes() = 1`,
      )
      .bind(clientId, now, revocationUntil(now, CLIENT_REVOCATION_TTL_SECONDS)),
  ])
  if ((update?.meta.changes ?? 0) === 1) return true
  return (await findClient(db, clientId)) !== undefined
}
