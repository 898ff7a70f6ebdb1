import { hashClientSecret } from '../clients/secret.ts'

/** The demo users of docs/protocol.md §2, seeded by `npm start` only, never by production config. */
export const DEMO_USERS = [
  {
    username: 'alice',
    password: 'alice-password-1',
    scope: 'chat:read chat:write',
    rooms: ['lobby', 'team:a:*'],
  },
  { username: 'bob', password: 'bob-password-1', scope: 'chat:read chat:write', rooms: ['lobby'] },
  { username: 'carol', password: 'carol-password-1', scope: 'chat:read', rooms: ['lobby'] },
] as const

/**
 * Create the demo users through the admin API; users that already exist
 * (a restart with the same state) are left as they are.
 *
 * @param edgeUrl - the edge's base URL
 * @param adminToken - the admin API token
 */
export async function seedDemoUsers(edgeUrl: string, adminToken: string): Promise<void> {
  for (const user of DEMO_USERS) {
    const res = await fetch(`${edgeUrl}/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(user),
    })
    if (res.status !== 201 && res.status !== 409) {
      throw new Error(`seeding ${user.username} failed: HTTP ${res.status}`)
    }
    await res.body?.cancel()
  }
}

/** The demo service client, created by `npm start` only (docs/protocol.md §8). */
export const DEMO_SERVICE_CLIENT = {
  clientId: 'demo-service',
  name: 'demo-service',
  scope: 'publish disconnect presence:read grants events:read',
  /**
   * A fixed local demo secret, so the docs can show it (override with
   * DEMO_SERVICE_SECRET). Real clients get 256 random bits from the admin API.
   */
  defaultSecret: 'demo-service-secret-local-only',
} as const

/**
 * SQL that creates the demo service client, or gives it the current secret
 * and scope if it exists: the admin API always chooses id and secret itself,
 * so the stable local demo values go straight into the local D1 (through
 * `startEdge({ seedSql })`), and only as a hash.
 *
 * @param secret - the demo secret
 * @example
 * ```ts
 * const edge = await startEdge({ seedSql: await demoServiceClientSql(DEMO_SERVICE_CLIENT.defaultSecret) })
 * ```
 */
export async function demoServiceClientSql(secret: string): Promise<string> {
  const { clientId, name, scope } = DEMO_SERVICE_CLIENT
  // Every value is a constant of this file or base64url, so nothing here needs quoting.
  return `INSERT INTO clients (client_id, name, scope, secret_hash, created_at)
    VALUES ('${clientId}', '${name}', '${scope}', '${await hashClientSecret(secret)}', unixepoch())
    ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, scope = excluded.scope`
}
