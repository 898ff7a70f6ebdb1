import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { app } from '../../../edge/app.ts'
import {
  ADMIN_TOKEN,
  FEED_TOKEN,
  call,
  createUser,
  expectBearerChallenge,
  expectError,
  feed,
  login,
  loginOk,
  postJson,
  refresh,
  uniqueName,
  userRow,
  type TestUser,
} from '../support.ts'

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

function create(body: unknown, headers: Record<string, string> = admin) {
  return postJson('/admin/users', body, headers)
}

function disable(username: string, headers: Record<string, string> = admin) {
  return call(`/admin/users/${encodeURIComponent(username)}/disable`, { method: 'POST', headers })
}

function newUser(overrides: Record<string, unknown> = {}) {
  return {
    username: uniqueName(),
    password: 'a-fine-password',
    scope: 'chat:read',
    rooms: ['lobby'],
    ...overrides,
  }
}

async function countUsers(username: string) {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM users WHERE username_key = ?')
    .bind(username.normalize('NFKC').toLowerCase())
    .first<{ n: number }>()
  return row!.n
}

describe('POST /admin/users', () => {
  it('answers 201 with exactly { sub }, a random id that is not the username', async () => {
    const body = newUser()
    const res = await create(body)
    expect(res.status).toBe(201)
    const json = (await res.json()) as Record<string, unknown>
    expect(Object.keys(json)).toEqual(['sub'])
    expect(json.sub).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    expect(json.sub).not.toContain(body.username)
  })

  it('stores only a scrypt hash of the password', async () => {
    const body = newUser({ password: 'plain-text-must-not-be-stored' })
    expect((await create(body)).status).toBe(201)
    const row = await userRow(body.username)
    expect(row?.password_hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$/)
    expect(row?.password_hash).not.toContain('plain-text-must-not-be-stored')
  })

  it('creates a user who logs in with the given scope and rooms in the token', async () => {
    const user = await createUser({ scope: 'chat:read', rooms: ['lobby', 'team:b:*', '*'] })
    const tokens = await loginOk(user)
    expect(tokens.scope).toBe('chat:read')
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: user.sub,
      scope: 'chat:read',
      rooms: ['lobby', 'team:b:*', '*'],
    })
  })

  it.each([
    ['an empty scope and no rooms', { scope: '', rooms: [] }],
    ['64 rooms', { rooms: Array.from({ length: 64 }, (_, i) => `room-${i}`) }],
    ['a 128-character room', { rooms: ['r'.repeat(128)] }],
    ['a 1024-character password', { password: 'p'.repeat(1024) }],
  ])('accepts %s', async (_, overrides) => {
    expect((await create(newUser(overrides))).status).toBe(201)
  })

  it('stores the username in NFC and displays it as created', async () => {
    const user = await createUser({ username: 'Ame\u0301lie' })
    expect((await userRow('Am\u00e9lie'))?.sub).toBe(user.sub)
    const tokens = await loginOk({ username: 'am\u00e9lie', password: user.password })
    expect(decodeJwt(tokens.access_token).name).toBe('Am\u00e9lie')
  })
})

describe('POST /admin/users: conflicts', () => {
  let taken: TestUser

  beforeAll(async () => {
    taken = await createUser({ username: `Taken${crypto.randomUUID().slice(0, 6)}` })
  })

  it.each([
    ['the same name', (n: string) => n],
    ['upper case', (n: string) => n.toUpperCase()],
    ['lower case', (n: string) => n.toLowerCase()],
    [
      'full-width letters',
      (n: string) => n.replace(/[A-Za-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
    ],
  ])('answers 409 conflict for %s and creates nothing', async (_, variant) => {
    const username = variant(taken.username)
    const res = await create(newUser({ username }))
    await expectError(res, 409, 'conflict', ['a-fine-password'])
    expect(await countUsers(taken.username)).toBe(1)
    await loginOk(taken)
  })

  it('answers 409 for an NFD spelling of an NFC name', async () => {
    await createUser({ username: 'Zo\u00eb-conflict' })
    await expectError(await create(newUser({ username: 'zoe\u0308-CONFLICT' })), 409, 'conflict')
  })

  it('keeps a disabled user’s name taken', async () => {
    const gone = await createUser()
    expect((await disable(gone.username)).status).toBe(204)
    await expectError(await create(newUser({ username: gone.username })), 409, 'conflict')
  })
})

describe('POST /admin/users: malformed requests', () => {
  const table: [string, Record<string, unknown>][] = [
    ['a missing username', { username: undefined }],
    ['a missing password', { password: undefined }],
    ['a missing scope', { scope: undefined }],
    ['missing rooms', { rooms: undefined }],
    ['an empty username', { username: '' }],
    ['a 65-character username', { username: 'u'.repeat(65) }],
    ['a username with a leading space', { username: ' alice2' }],
    ['a username with a trailing space', { username: 'alice2 ' }],
    ['a username with a newline', { username: 'ali\nce' }],
    ['a username with a NUL', { username: 'ali\u0000ce' }],
    ['a username with a zero-width joiner', { username: 'ali\u200dce' }],
    ['a username with a right-to-left override', { username: '\u202eecila' }],
    ['a lone-surrogate username', { username: 'ali\ud800ce' }],
    ['a numeric username', { username: 7 }],
    ['an empty password', { password: '' }],
    ['a 1025-character password', { password: 'p'.repeat(1025) }],
    ['a scope with a double quote', { scope: 'chat:"read"' }],
    ['a scope with a backslash', { scope: 'chat\\read' }],
    ['a scope with two spaces', { scope: 'chat:read  chat:write' }],
    ['a scope with a leading space', { scope: ' chat:read' }],
    ['a scope with a tab', { scope: 'chat:read\tchat:write' }],
    ['a scope with non-ASCII', { scope: 'chät' }],
    ['a scope array', { scope: ['chat:read'] }],
    ['rooms as a string', { rooms: 'lobby' }],
    ['a room with a space', { rooms: ['lobby 2'] }],
    ['an empty room', { rooms: [''] }],
    ['a room with an inner star', { rooms: ['team:*:x'] }],
    ['a room with a slash', { rooms: ['team/a'] }],
    ['a 129-character room', { rooms: ['r'.repeat(129)] }],
    ['a numeric room', { rooms: [1] }],
    ['65 rooms', { rooms: Array.from({ length: 65 }, (_, i) => `room-${i}`) }],
    ['an unknown extra key', { admin: true }],
    ['a sub chosen by the caller', { sub: 'chosen' }],
  ]

  it.each(table)('answers 400 invalid_request for %s and creates nothing', async (_, overrides) => {
    const body = newUser(overrides)
    const res = await create(body)
    await expectError(res, 400, 'invalid_request', ['a-fine-password'])
    if (typeof body.username === 'string' && body.username.isWellFormed()) {
      expect(await countUsers(body.username)).toBe(0)
    }
  })
})

describe('admin authentication', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer not-the-admin-token' }],
    ['the admin token with a suffix', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
    ['a prefix of the admin token', { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` }],
    ['the feed token', { authorization: `Bearer ${FEED_TOKEN}` }],
    [
      'the admin token as Basic credentials',
      { authorization: `Basic ${btoa(`admin:${ADMIN_TOKEN}`)}` },
    ],
    ['the admin token without a scheme', { authorization: ADMIN_TOKEN }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])(
    'answers 401 unauthorized with a bearer challenge for %s, and creates nothing',
    async (_, headers) => {
      const body = newUser()
      const res = await create(body, headers)
      expectBearerChallenge(res)
      await expectError(res, 401, 'unauthorized', [ADMIN_TOKEN])
      expect(await countUsers(body.username)).toBe(0)
    },
  )

  it('authenticates before reading the body: a malformed or oversized body from a stranger is 401', async () => {
    await expectError(await create({ nonsense: true }, {}), 401, 'unauthorized')
    await expectError(await create({ pad: 'x'.repeat(20_000) }, {}), 401, 'unauthorized')
  })

  it('accepts a lower-case scheme', async () => {
    const res = await create(newUser(), { authorization: `bearer ${ADMIN_TOKEN}` })
    expect(res.status).toBe(201)
  })

  it('refuses to disable a user without the admin token', async () => {
    const user = await createUser()
    const res = await disable(user.username, { authorization: 'Bearer wrong' })
    expectBearerChallenge(res)
    await expectError(res, 401, 'unauthorized')
    await loginOk(user)
  })

  it.each([
    ['unset', undefined],
    ['empty', ''],
  ])('answers 503 unavailable, never open, when ADMIN_TOKEN is %s', async (_, value) => {
    const unconfigured = { ...env, ADMIN_TOKEN: value } as unknown as Env
    const body = newUser()
    for (const authorization of [`Bearer ${ADMIN_TOKEN}`, 'Bearer undefined', '']) {
      const res = await app.request(
        '/admin/users',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify(body),
        },
        unconfigured,
      )
      await expectError(res, 503, 'unavailable', [ADMIN_TOKEN])
      expect(res.headers.get('www-authenticate')).toBeNull()
    }
    expect(await countUsers(body.username)).toBe(0)
  })
})

describe('POST /admin/users/:username/disable', () => {
  it('answers 204, then login is 401 and every refresh token of the user is 401', async () => {
    const user = await createUser()
    const a = await loginOk(user)
    const b = await loginOk(user)
    const res = await disable(user.username)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    await expectError(await login(user.username, user.password), 401, 'invalid_credentials', [
      user.password,
    ])
    await expectError(await refresh(a.refresh_token), 401, 'invalid_grant')
    await expectError(await refresh(b.refresh_token), 401, 'invalid_grant')
  })

  it('revokes every session of the user and records a user revocation event', async () => {
    const user = await createUser()
    await loginOk(user)
    await loginOk(user)
    const { next } = await feed(0)
    expect((await disable(user.username)).status).toBe(204)

    const sessions = await env.DB.prepare('SELECT revoked_why FROM sessions WHERE sub = ?')
      .bind(user.sub)
      .all<{ revoked_why: string | null }>()
    expect(sessions.results).toEqual([
      { revoked_why: 'user_disabled' },
      { revoked_why: 'user_disabled' },
    ])

    const { events } = await feed(next)
    const userEvents = events.filter((e) => e.kind === 'user')
    expect(userEvents).toEqual([
      {
        cursor: expect.any(Number),
        kind: 'user',
        id: user.sub,
        at: expect.any(Number),
        until: expect.any(Number),
      },
    ])
    expect(userEvents[0]!.until - userEvents[0]!.at).toBeGreaterThanOrEqual(300)
  })

  it('finds the user by any case or compatibility spelling in the path', async () => {
    const user = await createUser({ username: `Zo\u00eb-${crypto.randomUUID().slice(0, 6)}` })
    expect((await disable(user.username.toUpperCase().normalize('NFD'))).status).toBe(204)
    expect((await userRow(user.username))?.disabled_at).toEqual(expect.any(Number))
  })

  it.each([
    ['an unknown user', 'nobody-here'],
    ['SQL in the path', "x' OR '1'='1"],
    ['a wildcard', '%'],
  ])('answers 404 not_found for %s', async (_, username) => {
    await expectError(await disable(username), 404, 'not_found')
  })

  it.each([
    ['a broken percent-encoding', '/admin/users/%E0%A4%A/disable'],
    ['an encoded NUL', '/admin/users/a%00b/disable'],
    ['an encoded slash', '/admin/users/a%2Fb/disable'],
    ['a 4000-character name', `/admin/users/${'n'.repeat(4000)}/disable`],
  ])('answers 404 not_found, never 500, for %s in the path', async (_, path) => {
    await expectError(await call(path, { method: 'POST', headers: admin }), 404, 'not_found')
  })

  it('does not disable anyone when the path holds SQL', async () => {
    const bystander = await createUser()
    await disable("' OR 1=1 --")
    await loginOk(bystander)
  })
})
