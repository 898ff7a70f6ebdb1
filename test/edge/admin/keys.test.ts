import { env, exports } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'

const BASE = 'http://edge.test'
const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` }

function rotate(body: unknown, headers: Record<string, string> = ADMIN) {
  return exports.default.fetch(`${BASE}/admin/keys/rotate`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

async function listKeys() {
  const res = await exports.default.fetch(`${BASE}/admin/keys`, { headers: ADMIN })
  expect(res.status).toBe(200)
  return ((await res.json()) as { keys: Record<string, unknown>[] }).keys
}

async function feed() {
  const res = await exports.default.fetch(`${BASE}/auth/revocations?after=0`, {
    headers: { authorization: `Bearer ${env.REVOCATION_FEED_TOKEN}` },
  })
  return (
    (await res.json()) as { events: { kind: string; id: string; until: number; at: number }[] }
  ).events
}

describe('admin keys API', () => {
  it('lists keys with their state and times, and nothing private', async () => {
    const keys = await listKeys()
    expect(keys.map((k) => k.state).sort()).toEqual(['active', 'next'])
    for (const k of keys) {
      expect(Object.keys(k).sort()).toEqual(
        k.state === 'active'
          ? ['activatedAt', 'alg', 'createdAt', 'kid', 'state']
          : ['alg', 'createdAt', 'kid', 'state'],
      )
    }
  })

  it('refuses a normal rotation with 409 conflict while the next key is younger than JWKS_MAX_AGE', async () => {
    const before = await listKeys()
    const res = await rotate({ emergency: false })
    expect(res.status).toBe(409)
    expect(await res.json()).toMatchObject({ error: 'conflict' })
    expect(await listKeys()).toEqual(before)
  })

  it('rotates in an emergency at once, drops the key from the JWKS and records a key revocation', async () => {
    const before = await listKeys()
    const oldActive = before.find((k) => k.state === 'active')!.kid as string
    const oldNext = before.find((k) => k.state === 'next')!.kid as string
    const res = await rotate({ emergency: true })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { active: string; next: string; retired: string[] }
    expect(body.active).toBe(oldNext)
    expect(body.next).not.toBe(oldActive)
    expect(body.retired).not.toContain(oldActive)
    const jwks = (await (await exports.default.fetch(`${BASE}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[]
    }
    expect(jwks.keys.map((k) => k.kid)).not.toContain(oldActive)
    const event = (await feed()).find((e) => e.kind === 'key' && e.id === oldActive)
    expect(event).toBeDefined()
    expect(event!.until).toBeGreaterThan(event!.at + Number(env.ACCESS_TOKEN_TTL))
  })

  it('promotes the next key on a normal rotation once it has been published long enough', async () => {
    // Backdate the next key as if it had been published JWKS_MAX_AGE ago.
    const { runInDurableObject } = await import('cloudflare:test')
    const stub = env.KEYS.get(env.KEYS.idFromName('keys'))
    const next = (await listKeys()).find((k) => k.state === 'next')!.kid as string
    await runInDurableObject(stub, (_obj, state) => {
      state.storage.sql.exec(
        'UPDATE keys SET created_at = created_at - ? WHERE kid = ?',
        Number(env.JWKS_MAX_AGE),
        next,
      )
    })
    const res = await rotate({ emergency: false })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { active: string; retired: string[] }
    expect(body.active).toBe(next)
    expect(body.retired).toHaveLength(1)
  })

  it('answers 401 with WWW-Authenticate without the admin token, and never runs the rotation', async () => {
    const before = await listKeys()
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${btoa('admin:x')}` },
    ]
    for (const headers of attempts) {
      const res = await rotate({ emergency: true }, headers)
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /)
      expect(await res.json()).toMatchObject({ error: 'unauthorized' })
    }
    expect(await listKeys()).toEqual(before)
  })

  it('refuses a malformed rotation body with 400', async () => {
    expect((await rotate({ emergency: 'yes' })).status).toBe(400)
    expect((await rotate({ emergency: false, extra: 1 })).status).toBe(400)
  })
})
