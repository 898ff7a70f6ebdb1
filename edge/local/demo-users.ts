import { randomUUID } from 'node:crypto'
import { hashPassword } from '../auth/password.ts'
import { normalizePassword, usernameKey } from '../auth/schemas.ts'
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
 * SQL that creates the demo users that do not exist yet and leaves the others
 * as they are, so restarting on the same state seeds nothing and says nothing
 * (through the admin API, each existing user was a refused request and a
 * warning in the log). Run it through `startEdge({ seedSql })`, before the
 * worker starts; rows as `POST /admin/users` writes them (edge/auth/users.ts).
 *
 * @example
 * ```ts
 * const edge = await startEdge({ seedSql: await demoUsersSql() })
 * ```
 */
export async function demoUsersSql(): Promise<string> {
  const rows = await Promise.all(
    DEMO_USERS.map(async (user) => {
      const username = user.username.normalize('NFC')
      const values = [
        randomUUID(),
        username,
        usernameKey(username),
        await hashPassword(normalizePassword(user.password)),
        user.scope,
        JSON.stringify(user.rooms),
      ]
      return `(${values.map(sqlString).join(', ')}, unixepoch())`
    }),
  )
  return `INSERT INTO users (sub, username, username_key, password_hash, scope, rooms, created_at)
    VALUES ${rows.join(',\n      ')}
    ON CONFLICT (username_key) DO NOTHING`
}

/** A SQL string literal. */
function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
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
