/** The demo users of PROTOCOL §2, seeded by `npm start` only, never by production config. */
export const DEMO_USERS = [
  { username: 'alice', password: 'alice-password-1', scope: 'chat:read chat:write', rooms: ['lobby', 'team:a:*'] },
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
