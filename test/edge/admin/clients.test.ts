import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  ADMIN_TOKEN,
  call,
  expectBearerChallenge,
  expectError,
  feed,
  postJson,
} from '../support.ts'
import { createClient, disableClient } from '../service-support.ts'

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

async function listed() {
  const res = await call('/admin/clients', { headers: admin })
  expect(res.status).toBe(200)
  return { res, text: await res.text() }
}

describe('POST /admin/clients', () => {
  it('answers 201 with a client id and a 256-bit secret, no-store, and stores only a hash', async () => {
    const res = await postJson(
      '/admin/clients',
      { name: 'billing', scope: 'grants publish' },
      admin,
    )
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as Record<string, string>
    expect(Object.keys(body).sort()).toEqual(['client_id', 'client_secret'])
    expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const row = await env.DB.prepare('SELECT * FROM clients WHERE client_id = ?')
      .bind(body.client_id)
      .first()
    expect(row).toMatchObject({ name: 'billing', scope: 'publish grants', disabled_at: null })
    expect(JSON.stringify(row)).not.toContain(body.client_secret)
  })

  it('gives every client its own secret', async () => {
    const [a, b] = await Promise.all([createClient(), createClient()])
    expect(a.client_id).not.toBe(b.client_id)
    expect(a.client_secret).not.toBe(b.client_secret)
  })

  it.each([
    ['no scope', { name: 'x' }],
    ['an empty scope', { name: 'x', scope: '' }],
    ['a user scope', { name: 'x', scope: 'chat:read' }],
    ['an unknown scope next to a good one', { name: 'x', scope: 'publish admin' }],
    ['a scope with double spaces', { name: 'x', scope: 'publish  grants' }],
    ['a scope that is not a string', { name: 'x', scope: ['publish'] }],
    ['no name', { scope: 'publish' }],
    ['an empty name', { name: '', scope: 'publish' }],
    ['a name of 65 characters', { name: 'n'.repeat(65), scope: 'publish' }],
    ['a name with a control character', { name: 'a\u0000b', scope: 'publish' }],
    ['an unknown field', { name: 'x', scope: 'publish', client_secret: 'chosen' }],
    ['an array body', [{ name: 'x', scope: 'publish' }]],
  ])('refuses %s with 400 invalid_request', async (_, body) => {
    await expectError(await postJson('/admin/clients', body, admin), 400, 'invalid_request')
  })

  it('answers 401 without the admin token and creates nothing', async () => {
    const before = await env.DB.prepare('SELECT COUNT(*) AS n FROM clients').first<{ n: number }>()
    const res = await postJson(
      '/admin/clients',
      { name: 'sneaky', scope: 'publish' },
      { authorization: 'Bearer nope' },
    )
    expectBearerChallenge(res)
    await expectError(res, 401, 'unauthorized', [ADMIN_TOKEN])
    const after = await env.DB.prepare('SELECT COUNT(*) AS n FROM clients').first<{ n: number }>()
    expect(after?.n).toBe(before?.n)
  })
})

describe('GET /admin/clients', () => {
  it('lists id, name, scope, createdAt and disabled, never a secret or a hash', async () => {
    const client = await createClient('publish')
    const { res, text } = await listed()
    expect(res.headers.get('cache-control')).toBe('no-store')
    const { clients } = JSON.parse(text) as { clients: Record<string, unknown>[] }
    const entry = clients.find((c) => c.client_id === client.client_id)
    expect(entry).toEqual({
      client_id: client.client_id,
      name: client.name,
      scope: 'publish',
      createdAt: expect.any(Number),
      disabled: false,
    })
    const row = await env.DB.prepare('SELECT secret_hash FROM clients WHERE client_id = ?')
      .bind(client.client_id)
      .first<{ secret_hash: string }>()
    expect(text).not.toContain(client.client_secret)
    expect(text).not.toContain(row!.secret_hash)
    expect(text).not.toMatch(/secret|hash/i)
  })

  it('answers 401 without the admin token', async () => {
    await expectError(await call('/admin/clients'), 401, 'unauthorized')
  })
})

describe('POST /admin/clients/:client_id/disable', () => {
  it('answers 204, marks the client disabled and records one client event until tokens and grants have expired', async () => {
    const client = await createClient()
    const { next } = await feed(0)
    await disableClient(client.client_id)
    const { clients } = JSON.parse((await listed()).text) as {
      clients: { client_id: string; disabled: boolean }[]
    }
    expect(clients.find((c) => c.client_id === client.client_id)?.disabled).toBe(true)
    const { events } = await feed(next)
    expect(events).toEqual([
      {
        cursor: expect.any(Number),
        kind: 'client',
        id: client.client_id,
        at: expect.any(Number),
        until: expect.any(Number),
      },
    ])
    // Grants (up to 3600 s) outlive service tokens (900 s); the event must cover both.
    expect(events[0]!.until - events[0]!.at).toBeGreaterThanOrEqual(3600)
  })

  it('answers 204 again for a disabled client and records nothing new', async () => {
    const client = await createClient()
    await disableClient(client.client_id)
    const { next } = await feed(0)
    await disableClient(client.client_id)
    expect((await feed(next)).events).toEqual([])
  })

  it('answers 404 for an unknown client and records nothing', async () => {
    const { next } = await feed(0)
    const res = await call('/admin/clients/no-such-client/disable', {
      method: 'POST',
      headers: admin,
    })
    await expectError(res, 404, 'not_found')
    expect((await feed(next)).events).toEqual([])
  })

  it('answers 401 without the admin token and leaves the client enabled', async () => {
    const client = await createClient()
    const res = await call(`/admin/clients/${client.client_id}/disable`, { method: 'POST' })
    await expectError(res, 401, 'unauthorized')
    const row = await env.DB.prepare('SELECT disabled_at FROM clients WHERE client_id = ?')
      .bind(client.client_id)
      .first<{ disabled_at: number | null }>()
    expect(row?.disabled_at).toBeNull()
  })
})
