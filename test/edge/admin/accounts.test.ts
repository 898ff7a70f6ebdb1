import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import type { UserView } from '../../../edge/admin/accounts.ts'
import { accountsEdge, strongPassword, uniqueEmail } from '../accounts/support.ts'
import { ADMIN_TOKEN, expectError, uniqueName } from '../support.ts'

const edge = accountsEdge({ SIGNUP: 'open', MAILER: 'outbox' })
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

function adminCall(method: string, path: string, body?: unknown) {
  return edge.call(path, {
    method,
    headers: body === undefined ? admin : { ...admin, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
}

type Listed = UserView

describe('GET /admin/users', () => {
  it('pages through every user once with limit and cursor', async () => {
    const mine = new Set<string>()
    for (let i = 0; i < 5; i++) {
      const username = uniqueName('page')
      await edge.signupOk({ username, password: strongPassword() })
      mine.add(username)
    }
    const seen: string[] = []
    let cursor: string | undefined
    for (let page = 0; page < 1000; page++) {
      const res = await adminCall(
        'GET',
        `/admin/users?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      expect(res.status).toBe(200)
      const body = (await res.json()) as { users: Listed[]; next?: string }
      expect(body.users.length).toBeLessThanOrEqual(2)
      seen.push(...body.users.map((u) => u.username))
      if (body.next === undefined) break
      cursor = body.next
    }
    expect(new Set(seen).size).toBe(seen.length)
    for (const name of mine) expect(seen).toContain(name)
  })

  it('lists the fields of §13 and never a hash', async () => {
    const username = uniqueName()
    const email = uniqueEmail()
    await edge.signupOk({ username, password: strongPassword(), email })
    const res = await adminCall('GET', '/admin/users?limit=200')
    const text = await res.text()
    expect(text).not.toContain('$scrypt$')
    let found: Listed | undefined
    let body = JSON.parse(text) as { users: Listed[]; next?: string }
    for (;;) {
      found = body.users.find((u) => u.username === username)
      if (found || !body.next) break
      body = (await (
        await adminCall('GET', `/admin/users?limit=200&cursor=${body.next}`)
      ).json()) as typeof body
    }
    expect(found).toEqual({
      sub: expect.any(String),
      username,
      email,
      emailVerified: false,
      scope: 'chat:read chat:write',
      rooms: ['lobby'],
      disabled: false,
      createdAt: expect.any(Number),
      passkeys: 0,
      federated: [],
    })
  })

  it.each(['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'cursor=%%%', 'cursor=Zm9v'])(
    '?%s is 400 invalid_request',
    async (query) => {
      await expectError(await adminCall('GET', `/admin/users?${query}`), 400, 'invalid_request')
    },
  )

  it('needs the admin token', async () => {
    await expectError(await edge.call('/admin/users'), 401, 'unauthorized')
  })
})

describe('PATCH /admin/users/:username', () => {
  it('changes scope and rooms; the next refresh carries them, the current token keeps its own', async () => {
    const username = uniqueName()
    const tokens = await edge.signupOk({ username, password: strongPassword() })
    const res = await adminCall('PATCH', `/admin/users/${username}`, {
      scope: 'chat:read',
      rooms: ['quiet'],
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ username, scope: 'chat:read', rooms: ['quiet'] })
    expect(decodeJwt(tokens.access_token).scope).toBe('chat:read chat:write')
    const refreshed = await edge.post('/auth/refresh', { refresh_token: tokens.refresh_token })
    const next = (await refreshed.json()) as { access_token: string; scope: string }
    expect(next.scope).toBe('chat:read')
    expect(decodeJwt(next.access_token)).toMatchObject({ scope: 'chat:read', rooms: ['quiet'] })
  })

  it('sets an unverified email and mails it a link; a taken email is 409', async () => {
    const a = uniqueName()
    const b = uniqueName()
    const email = uniqueEmail()
    await edge.signupOk({ username: a, password: strongPassword() })
    await edge.signupOk({ username: b, password: strongPassword() })
    const res = await adminCall('PATCH', `/admin/users/${a}`, { email })
    expect(await res.json()).toMatchObject({ email, emailVerified: false })
    expect((await edge.outbox()).some((m) => m.to === email && m.kind === 'verify')).toBe(true)
    await expectError(
      await adminCall('PATCH', `/admin/users/${b}`, { email: email.toUpperCase() }),
      409,
      'conflict',
    )
  })

  it.each([
    [{}, 'no field'],
    [{ scope: 'two  spaces' }, 'malformed scope'],
    [{ rooms: 'lobby' }, 'rooms not an array'],
    [{ email: 'x' }, 'bad email'],
    [{ password: 'x' }, 'unknown field'],
  ])('%j is 400 invalid_request (%s)', async (body, _what) => {
    const username = uniqueName()
    await edge.signupOk({ username, password: strongPassword() })
    await expectError(
      await adminCall('PATCH', `/admin/users/${username}`, body),
      400,
      'invalid_request',
    )
  })

  it('is 404 for an unknown user', async () => {
    await expectError(
      await adminCall('PATCH', `/admin/users/${uniqueName('ghost')}`, { scope: 'chat:read' }),
      404,
      'not_found',
    )
  })
})

describe('POST /admin/users/:username/enable', () => {
  it('lets a disabled user log in again', async () => {
    const username = uniqueName()
    const password = strongPassword()
    await edge.signupOk({ username, password })
    expect((await adminCall('POST', `/admin/users/${username}/disable`)).status).toBe(204)
    await expectError(
      await edge.post('/auth/login', { username, password }),
      401,
      'invalid_credentials',
    )
    expect((await adminCall('POST', `/admin/users/${username}/enable`)).status).toBe(204)
    expect((await edge.post('/auth/login', { username, password })).status).toBe(200)
    await expectError(
      await adminCall('POST', `/admin/users/${uniqueName('ghost')}/enable`),
      404,
      'not_found',
    )
  })
})

describe('DELETE /admin/users/:username', () => {
  it('revokes everything, erases personal data, and a new sign-up with the name gets a new sub', async () => {
    const username = uniqueName()
    const password = strongPassword()
    const email = uniqueEmail()
    const tokens = await edge.signupOk({ username, password, email })
    const oldSub = decodeJwt(tokens.access_token).sub!

    expect((await adminCall('DELETE', `/admin/users/${username}`)).status).toBe(204)
    const row = await env.DB.prepare(
      'SELECT username, password_hash, email, email_key, deleted_at FROM users WHERE sub = ?',
    )
      .bind(oldSub)
      .first<Record<string, unknown>>()
    expect(row).toMatchObject({ username: '', password_hash: '', email: null, email_key: null })
    expect(row?.deleted_at).toEqual(expect.any(Number))
    const tokensLeft = await env.DB.prepare('SELECT COUNT(*) AS n FROM mail_tokens WHERE sub = ?')
      .bind(oldSub)
      .first<{ n: number }>()
    expect(tokensLeft?.n).toBe(0)
    const userEvent = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM revocations WHERE kind = 'user' AND id = ?`,
    )
      .bind(oldSub)
      .first<{ n: number }>()
    expect(userEvent?.n).toBe(1)
    await expectError(
      await edge.post('/auth/refresh', { refresh_token: tokens.refresh_token }),
      401,
      'invalid_grant',
    )
    await expectError(
      await edge.post('/auth/login', { username, password }),
      401,
      'invalid_credentials',
    )
    await expectError(await adminCall('DELETE', `/admin/users/${username}`), 404, 'not_found')

    const again = await edge.signupOk({ username, password: strongPassword(), email })
    expect(decodeJwt(again.access_token).sub).not.toBe(oldSub)
  })
})
