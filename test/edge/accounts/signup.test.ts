import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { INVITES_OUTSTANDING_MAX } from '../../../edge/constants.ts'
import { ADMIN_TOKEN, expectError, freshAddress, login, postJson, uniqueName } from '../support.ts'
import { accountsEdge, strongPassword, uniqueEmail } from './support.ts'

const open = accountsEdge({ SIGNUP: 'open', MAILER: 'outbox', SIGNUP_ROOMS: '["lobby","help"]' })
const invite = accountsEdge({ SIGNUP: 'invite', MAILER: 'outbox' })
const verified = accountsEdge({ SIGNUP: 'open', MAILER: 'outbox', EMAIL_VERIFICATION: 'required' })
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }

describe('POST /auth/signup: modes', () => {
  it('is 403 signup_closed when SIGNUP is off (the default), and no user is created', async () => {
    const username = uniqueName()
    const res = await postJson(
      '/auth/signup',
      { username, password: strongPassword() },
      { 'cf-connecting-ip': freshAddress() },
    )
    await expectError(res, 403, 'signup_closed')
    const row = await env.DB.prepare('SELECT 1 FROM users WHERE username = ?')
      .bind(username)
      .first()
    expect(row).toBeNull()
  })

  it('opens a session at once in open mode: 201, the configured scope and rooms', async () => {
    const username = uniqueName()
    const password = strongPassword()
    const res = await open.post(
      '/auth/signup',
      { username, password },
      { 'user-agent': 'TestUA/1' },
    )
    expect(res.status).toBe(201)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const tokens = (await res.json()) as { access_token: string; scope: string }
    expect(tokens.scope).toBe('chat:read chat:write')
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      name: username,
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'help'],
    })
    const session = await env.DB.prepare('SELECT method, user_agent FROM sessions WHERE sid = ?')
      .bind(decodeJwt(tokens.access_token).sid)
      .first()
    expect(session).toEqual({ method: 'password', user_agent: 'TestUA/1' })
    expect((await login(username, password)).status).toBe(200)
  })

  it('is 409 conflict for a taken username, also in another case or width', async () => {
    const username = uniqueName('dup')
    await open.signupOk({ username, password: strongPassword() })
    await expectError(
      await open.post('/auth/signup', { username, password: strongPassword() }),
      409,
      'conflict',
    )
    await expectError(
      await open.post('/auth/signup', {
        username: username.toUpperCase(),
        password: strongPassword(),
      }),
      409,
      'conflict',
    )
  })

  it('counts a taken username as a failed login: the 6th from one address is 429', async () => {
    const username = uniqueName('probe')
    await open.signupOk({ username, password: strongPassword() })
    const address = freshAddress()
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await open.post(
        '/auth/signup',
        { username, password: strongPassword() },
        { 'cf-connecting-ip': address },
      )
      statuses.push(res.status)
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    }
    expect(statuses).toEqual([409, 409, 409, 409, 409, 429])
  })

  it('in invite mode refuses without an invite and with an unknown one (403 signup_closed)', async () => {
    const password = strongPassword()
    await expectError(
      await invite.post('/auth/signup', { username: uniqueName(), password }),
      403,
      'signup_closed',
    )
    await expectError(
      await invite.post('/auth/signup', {
        username: uniqueName(),
        password,
        invite: 'A'.repeat(43),
      }),
      403,
      'signup_closed',
    )
  })

  it('an invite signs up exactly one user, with its scope and rooms; its second use is 403', async () => {
    const created = await invite.post(
      '/admin/invites',
      { scope: 'chat:read', rooms: ['vip'], ttl: 600 },
      admin,
    )
    expect(created.status).toBe(201)
    const { invite: code, expires_in } = (await created.json()) as {
      invite: string
      expires_in: number
    }
    expect(expires_in).toBe(600)
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const stored = await env.DB.prepare('SELECT COUNT(*) AS n FROM invites WHERE invite_hash = ?')
      .bind(code)
      .first<{ n: number }>()
    expect(stored?.n).toBe(0)

    const first = await invite.signupOk({
      username: uniqueName(),
      password: strongPassword(),
      invite: code,
    })
    expect(decodeJwt(first.access_token)).toMatchObject({ scope: 'chat:read', rooms: ['vip'] })
    await expectError(
      await invite.post('/auth/signup', {
        username: uniqueName(),
        password: strongPassword(),
        invite: code,
      }),
      403,
      'signup_closed',
    )
  })

  it('gives an invite back when its sign-up fails on a taken username', async () => {
    const taken = uniqueName()
    await open.signupOk({ username: taken, password: strongPassword() })
    const { invite: code } = (await (await invite.post('/admin/invites', {}, admin)).json()) as {
      invite: string
    }
    await expectError(
      await invite.post('/auth/signup', {
        username: taken,
        password: strongPassword(),
        invite: code,
      }),
      409,
      'conflict',
    )
    await invite.signupOk({ username: uniqueName(), password: strongPassword(), invite: code })
  })

  it('refuses an expired invite (driven clock through the stored expiry)', async () => {
    const { invite: code } = (await (
      await invite.post('/admin/invites', { ttl: 60 }, admin)
    ).json()) as { invite: string }
    await env.DB.prepare(
      'UPDATE invites SET expires_at = 1 WHERE used_at IS NULL AND expires_at > 1',
    ).run()
    await expectError(
      await invite.post('/auth/signup', {
        username: uniqueName(),
        password: strongPassword(),
        invite: code,
      }),
      403,
      'signup_closed',
    )
  })

  it.each([
    [{}, 'empty body'],
    [{ ttl: 59 }, 'ttl under 60 s'],
    [{ ttl: 2_592_001 }, 'ttl over 30 days'],
    [{ ttl: 1.5 }, 'fractional ttl'],
    [{ scope: 'chat:read', extra: 1 }, 'unknown field'],
  ])('POST /admin/invites: %j (%s)', async (body, what) => {
    const res = await invite.post('/admin/invites', body, admin)
    if (what === 'empty body') expect(res.status).toBe(201)
    else await expectError(res, 400, 'invalid_request')
  })

  it(`refuses a new invite (409) while ${INVITES_OUTSTANDING_MAX} are outstanding`, async () => {
    const live = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM invites WHERE used_at IS NULL AND expires_at > ?',
    )
      .bind(Math.floor(Date.now() / 1000))
      .first<{ n: number }>()
    const missing = INVITES_OUTSTANDING_MAX - (live?.n ?? 0)
    const ins = env.DB.prepare(
      'INSERT INTO invites (invite_hash, created_at, expires_at) VALUES (?, 0, 4000000000)',
    )
    const id = crypto.randomUUID()
    await env.DB.batch(Array.from({ length: missing }, (_, i) => ins.bind(`${id}-${i}`)))
    await expectError(await invite.post('/admin/invites', {}, admin), 409, 'conflict')
    await env.DB.prepare('DELETE FROM invites WHERE invite_hash LIKE ?').bind(`${id}-%`).run()
    expect((await invite.post('/admin/invites', {}, admin)).status).toBe(201)
  })

  it('POST /admin/invites needs the admin token', async () => {
    await expectError(await invite.post('/admin/invites', {}), 401, 'unauthorized')
  })
})

describe('POST /auth/signup: the password rules, each by name', () => {
  it.each([
    ['short', 'kq3-Wz8', /8-1024 characters/],
    ['the username', 'SAME', /not be the username/],
    ['common', 'iloveyou', /10,000 most common/],
    ['common, other case', 'TrustNo1', /10,000 most common/],
  ])('%s: 400 weak_password naming the rule', async (_, password, rule) => {
    const username = password === 'SAME' ? uniqueName('same') : uniqueName()
    const body = { username, password: password === 'SAME' ? username : password }
    const error = await expectError(await open.post('/auth/signup', body), 400, 'weak_password', [
      body.password,
    ])
    expect(error.error_description).toMatch(rule)
    const row = await env.DB.prepare('SELECT 1 FROM users WHERE username = ?')
      .bind(username)
      .first()
    expect(row).toBeNull()
  })
})

describe('POST /auth/signup: a strict schema', () => {
  it.each([
    ['an unknown field', { username: 'x1', password: 'kq3-Wz8v-long', admin: true }],
    ['a username with surrounding space', { username: ' bob ', password: 'kq3-Wz8v-long' }],
    ['a username with a control character', { username: 'bo\u0001b', password: 'kq3-Wz8v-long' }],
    ['a 65-character username', { username: 'a'.repeat(65), password: 'kq3-Wz8v-long' }],
    ['a 1025-character password', { username: 'okname', password: 'a'.repeat(1025) }],
    ['a number as username', { username: 7, password: 'kq3-Wz8v-long' }],
    ['an email without @', { username: 'okname2', password: 'kq3-Wz8v-long', email: 'nope' }],
    [
      'an email of 255 characters',
      { username: 'okname3', password: 'kq3-Wz8v-long', email: `${'a'.repeat(243)}@example.com` },
    ],
    [
      'an invite with bad characters',
      { username: 'okname4', password: 'kq3-Wz8v-long', invite: 'a b' },
    ],
    ['an array', []],
  ])('%s: 400 invalid_request', async (_, body) => {
    await expectError(await open.post('/auth/signup', body), 400, 'invalid_request', [
      'kq3-Wz8v-long',
    ])
  })

  it('answers 415 for a form body', async () => {
    const res = await open.call('/auth/signup', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=a&password=b',
    })
    await expectError(res, 415, 'unsupported_media_type')
  })
})

describe('POST /auth/signup with EMAIL_VERIFICATION=required', () => {
  it('needs an email (400 invalid_request)', async () => {
    await expectError(
      await verified.post('/auth/signup', { username: uniqueName(), password: strongPassword() }),
      400,
      'invalid_request',
    )
  })

  it('answers 202, mails a link, refuses login until the link is used, then logs in once', async () => {
    const username = uniqueName()
    const password = strongPassword()
    const email = uniqueEmail()
    const res = await verified.post('/auth/signup', { username, password, email })
    expect(res.status).toBe(202)
    expect(await res.json()).toEqual({ verification: 'sent' })
    await expectError(
      await verified.post('/auth/login', { username, password }),
      401,
      'invalid_credentials',
    )

    const mails = (await verified.outbox()).filter((m) => m.to === email)
    expect(mails).toHaveLength(1)
    expect(mails[0]).toMatchObject({ kind: 'verify', subject: 'Confirm your email address' })
    expect(mails[0]!.text).not.toContain(password)
    const token = await verified.mailToken(email, 'verify')

    const done = await verified.post('/auth/email/verify', { token })
    expect(done.status).toBe(200)
    expect(decodeJwt(((await done.json()) as { access_token: string }).access_token)).toMatchObject(
      {
        name: username,
      },
    )
    expect((await verified.post('/auth/login', { username, password })).status).toBe(200)
    await expectError(await verified.post('/auth/email/verify', { token }), 401, 'invalid_grant', [
      token,
    ])
  })

  it('a second verification mail voids the first link', async () => {
    const username = uniqueName()
    const email = uniqueEmail()
    await verified.post('/auth/signup', { username, password: strongPassword(), email })
    const first = await verified.mailToken(email, 'verify')
    const patched = await verified.call(`/admin/users/${username}`, {
      method: 'PATCH',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ email: email.replace('u-', 'v-') }),
    })
    expect(patched.status).toBe(200)
    await expectError(
      await verified.post('/auth/email/verify', { token: first }),
      401,
      'invalid_grant',
    )
    const second = await verified.mailToken(email.replace('u-', 'v-'), 'verify')
    expect((await verified.post('/auth/email/verify', { token: second })).status).toBe(200)
  })

  it('refuses an expired verification token', async () => {
    const email = uniqueEmail()
    await verified.post('/auth/signup', {
      username: uniqueName(),
      password: strongPassword(),
      email,
    })
    const token = await verified.mailToken(email, 'verify')
    await env.DB.prepare(`UPDATE mail_tokens SET expires_at = 1 WHERE email_key = ?`)
      .bind(email)
      .run()
    await expectError(await verified.post('/auth/email/verify', { token }), 401, 'invalid_grant')
  })
})
