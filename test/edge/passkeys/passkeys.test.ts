import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { PASSKEY_OPTIONS_PER_ADDRESS } from '../../../edge/constants.ts'
import { pruneAccounts } from '../../../edge/accounts/prune.ts'
import type { TokenResponse } from '../../../shared/claims.ts'
import { accountsEdge } from '../accounts/support.ts'
import {
  ADMIN_TOKEN,
  createUser,
  expectError,
  freshAddress,
  login,
  loginOk,
  uniqueName,
} from '../support.ts'
import { SoftAuthenticator, type Bend } from './authenticator.ts'

const ORIGIN = 'http://localhost:8787'
const edge = accountsEdge({ SIGNUP: 'open', RP_ID: 'localhost', RP_ORIGINS: ORIGIN })
const closed = accountsEdge({ SIGNUP: 'off', RP_ID: 'localhost', RP_ORIGINS: ORIGIN })
const bearer = (t: TokenResponse) => ({ authorization: `Bearer ${t.access_token}` })

interface Creation {
  challenge: string
  rp: { id: string; name: string }
  user: { id: string; name: string }
  excludeCredentials?: { id: string }[]
  authenticatorSelection?: { residentKey?: string; userVerification?: string }
  pubKeyCredParams: { alg: number }[]
}

async function registerOptions(tokens: TokenResponse): Promise<Creation> {
  const res = await edge.post('/auth/passkeys/register/options', {}, bearer(tokens))
  expect(res.status, await res.clone().text()).toBe(200)
  return (await res.json()) as Creation
}

/** A logged-in user with one passkey on `authenticator`. */
async function userWithPasskey(authenticator = new SoftAuthenticator(ORIGIN)) {
  const user = await createUser()
  const tokens = await loginOk(user)
  const options = await registerOptions(tokens)
  const res = await edge.post(
    '/auth/passkeys/register',
    { response: await authenticator.create(options), name: 'Laptop' },
    bearer(tokens),
  )
  expect(res.status, await res.clone().text()).toBe(201)
  return { user, tokens, authenticator }
}

async function loginOptions(body: unknown = {}) {
  const res = await edge.post('/auth/passkeys/login/options', body)
  expect(res.status).toBe(200)
  return (await res.json()) as {
    challengeId: string
    options: { challenge: string; rpId: string; allowCredentials?: { id: string }[] }
  }
}

/** Ask for a login challenge, answer it with `authenticator` (bent as told), and post it. */
async function passkeyLogin(authenticator: SoftAuthenticator, bend: Bend = {}) {
  const { challengeId, options } = await loginOptions()
  const body = { challengeId, response: await authenticator.get(options, bend) }
  return { res: await edge.post('/auth/passkeys/login', body), body }
}

function passkeyRow(id: string) {
  return env.DB.prepare('SELECT sub, counter, last_used_at FROM passkeys WHERE id = ?')
    .bind(id)
    .first<{ sub: string; counter: number; last_used_at: number | null }>()
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('passkeys: registration and login', () => {
  it('registers a discoverable passkey and logs in with it to a passkey session', async () => {
    const user = await createUser()
    const tokens = await loginOk(user)
    const options = await registerOptions(tokens)
    expect(options.rp.id).toBe('localhost')
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      userVerification: 'preferred',
    })
    expect(options.excludeCredentials).toEqual([])
    // ≥ 128 bits: 32 bytes are 43 base64url characters.
    expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(new TextDecoder().decode(Buffer.from(options.user.id, 'base64url'))).toBe(user.sub)

    const authenticator = new SoftAuthenticator(ORIGIN)
    const res = await edge.post(
      '/auth/passkeys/register',
      { response: await authenticator.create(options), name: 'Laptop' },
      bearer(tokens),
    )
    expect(res.status).toBe(201)
    const created = (await res.json()) as { id: string; name: string; createdAt: number }
    expect(created).toEqual({ id: authenticator.id, name: 'Laptop', createdAt: expect.any(Number) })

    const again = await registerOptions(tokens)
    expect(again.excludeCredentials?.map((c) => c.id)).toEqual([authenticator.id])
    const list = await edge.call('/auth/passkeys', { headers: bearer(tokens) })
    expect(await list.json()).toEqual({
      passkeys: [
        { id: authenticator.id, name: 'Laptop', createdAt: created.createdAt, lastUsedAt: null },
      ],
    })

    const { res: loggedIn } = await passkeyLogin(authenticator)
    expect(loggedIn.status, await loggedIn.clone().text()).toBe(200)
    const session = (await loggedIn.json()) as TokenResponse
    const claims = decodeJwt(session.access_token)
    expect(claims).toMatchObject({ sub: user.sub, name: user.username })
    const row = await env.DB.prepare('SELECT method FROM sessions WHERE sid = ?')
      .bind(claims.sid)
      .first()
    expect(row).toEqual({ method: 'passkey' })
    expect(await passkeyRow(authenticator.id)).toMatchObject({
      counter: 1,
      last_used_at: expect.any(Number),
    })

    const users = await edge.call('/admin/users?limit=200', {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    const listed = (await users.json()) as { users: { sub: string; passkeys: number }[] }
    expect(listed.users.find((u) => u.sub === user.sub)?.passkeys).toBe(1)
  })

  it("lists only that user's passkeys in allowCredentials when a username is given", async () => {
    const { user, authenticator } = await userWithPasskey()
    const { options } = await loginOptions({ username: user.username })
    expect(options.allowCredentials?.map((c) => c.id)).toEqual([authenticator.id])
    const unknown = await loginOptions({ username: uniqueName('nobody') })
    expect(unknown.options.allowCredentials).toEqual([])
  })

  it('needs a bearer token to register, list, rename or delete', async () => {
    for (const [method, path] of [
      ['POST', '/auth/passkeys/register/options'],
      ['POST', '/auth/passkeys/register'],
      ['GET', '/auth/passkeys'],
      ['DELETE', '/auth/passkeys/x'],
      ['PATCH', '/auth/passkeys/x'],
    ] as const) {
      const res = await edge.call(path, { method })
      expect(res.status, `${method} ${path}`).toBe(401)
    }
  })
})

describe('passkeys: hostile registrations', () => {
  async function attempt(bend: Bend, authenticator = new SoftAuthenticator(ORIGIN)) {
    const tokens = await loginOk(await createUser())
    const options = await registerOptions(tokens)
    const res = await edge.post(
      '/auth/passkeys/register',
      { response: await authenticator.create(options, bend) },
      bearer(tokens),
    )
    return { res, tokens, options, authenticator }
  }

  it('refuses another origin in clientDataJSON (400), and stores nothing', async () => {
    const { res, authenticator } = await attempt({ origin: 'http://evil.test' })
    await expectError(res, 400, 'invalid_request')
    expect(await passkeyRow(authenticator.id)).toBeNull()
  })

  it('refuses another RP id hash (400)', async () => {
    const { res, authenticator } = await attempt({ rpId: 'evil.test' })
    await expectError(res, 400, 'invalid_request')
    expect(await passkeyRow(authenticator.id)).toBeNull()
  })

  it('refuses an unsupported algorithm (ES384 claimed: 400)', async () => {
    const { res, authenticator } = await attempt({}, new SoftAuthenticator(ORIGIN, -35))
    await expectError(res, 400, 'invalid_request')
    expect(await passkeyRow(authenticator.id)).toBeNull()
  })

  it('refuses a challenge it never issued (400)', async () => {
    const { res } = await attempt({ challenge: 'A'.repeat(43) })
    await expectError(res, 400, 'invalid_request')
  })

  it('spends a challenge once: a second registration on it is 400', async () => {
    const { res, tokens, options } = await attempt({})
    expect(res.status).toBe(201)
    const second = new SoftAuthenticator(ORIGIN)
    const replay = await edge.post(
      '/auth/passkeys/register',
      { response: await second.create(options) },
      bearer(tokens),
    )
    await expectError(replay, 400, 'invalid_request')
    expect(await passkeyRow(second.id)).toBeNull()
  })

  it('spends a challenge even when the registration fails', async () => {
    const { tokens, options } = await attempt({ origin: 'http://evil.test' })
    const retry = await edge.post(
      '/auth/passkeys/register',
      { response: await new SoftAuthenticator(ORIGIN).create(options) },
      bearer(tokens),
    )
    await expectError(retry, 400, 'invalid_request')
  })

  it("refuses another user's challenge (400): a challenge is bound to the user it was issued to", async () => {
    const victim = await loginOk(await createUser())
    const options = await registerOptions(victim)
    const attacker = await loginOk(await createUser())
    const res = await edge.post(
      '/auth/passkeys/register',
      { response: await new SoftAuthenticator(ORIGIN).create(options) },
      bearer(attacker),
    )
    await expectError(res, 400, 'invalid_request')
  })

  it('refuses a login challenge used for a registration (bound to its ceremony)', async () => {
    const tokens = await loginOk(await createUser())
    const { options } = await loginOptions()
    const res = await edge.post(
      '/auth/passkeys/register',
      {
        response: await new SoftAuthenticator(ORIGIN).create({
          challenge: options.challenge,
          rp: { id: 'localhost' },
          user: { id: 'eA' },
        }),
      },
      bearer(tokens),
    )
    await expectError(res, 400, 'invalid_request')
  })

  it('will not take over a credential id another user registered (409)', async () => {
    const { authenticator, user } = await userWithPasskey()
    const tokens = await loginOk(await createUser())
    const options = await registerOptions(tokens)
    // Same credential id, new key: the first owner's row must stay as it was.
    const res = await edge.post(
      '/auth/passkeys/register',
      { response: await authenticator.create(options) },
      bearer(tokens),
    )
    await expectError(res, 409, 'conflict')
    expect((await passkeyRow(authenticator.id))?.sub).toBe(user.sub)
  })

  it('rejects a malformed response body (400) before any challenge is spent', async () => {
    const tokens = await loginOk(await createUser())
    const res = await edge.post(
      '/auth/passkeys/register',
      { response: { id: 'x', rawId: 'x', type: 'public-key', response: {} } },
      bearer(tokens),
    )
    await expectError(res, 400, 'invalid_request')
  })
})

describe('passkeys: hostile logins', () => {
  it('refuses a replayed assertion: its challenge is spent (400), and on a new challenge it does not match (401)', async () => {
    const { authenticator } = await userWithPasskey()
    const { res, body } = await passkeyLogin(authenticator)
    expect(res.status).toBe(200)
    await expectError(await edge.post('/auth/passkeys/login', body), 400, 'invalid_request')
    const { challengeId } = await loginOptions()
    await expectError(
      await edge.post('/auth/passkeys/login', { ...body, challengeId }),
      401,
      'invalid_credentials',
    )
  })

  it('refuses another origin in clientDataJSON (401), and the challenge is spent', async () => {
    const { authenticator } = await userWithPasskey()
    const { challengeId, options } = await loginOptions()
    const bad = await authenticator.get(options, { origin: 'http://evil.test' })
    await expectError(
      await edge.post('/auth/passkeys/login', { challengeId, response: bad }),
      401,
      'invalid_credentials',
    )
    const good = await authenticator.get(options)
    await expectError(
      await edge.post('/auth/passkeys/login', { challengeId, response: good }),
      400,
      'invalid_request',
    )
  })

  it('refuses another RP id hash (401)', async () => {
    const { authenticator } = await userWithPasskey()
    const { res } = await passkeyLogin(authenticator, { rpId: 'evil.test' })
    await expectError(res, 401, 'invalid_credentials')
  })

  it('refuses a signature by another key (401), and the counter does not move', async () => {
    const { authenticator } = await userWithPasskey()
    const other = await SoftAuthenticator.keyPair()
    const { res } = await passkeyLogin(authenticator, { signWith: other.privateKey })
    await expectError(res, 401, 'invalid_credentials')
    expect((await passkeyRow(authenticator.id))?.counter).toBe(0)
  })

  it('refuses an unknown credential (401)', async () => {
    const stranger = new SoftAuthenticator(ORIGIN)
    await stranger.create({ challenge: 'AAAA', rp: { id: 'localhost' }, user: { id: 'eA' } })
    const { res } = await passkeyLogin(stranger)
    await expectError(res, 401, 'invalid_credentials')
  })

  it('refuses a counter that went backwards or stood still, and logs it as a warning', async () => {
    const { authenticator, user } = await userWithPasskey()
    expect((await passkeyLogin(authenticator, { counter: 5 })).res.status).toBe(200)
    const warn = vi.spyOn(console, 'warn')
    for (const counter of [4, 5, 0]) {
      const { res } = await passkeyLogin(authenticator, { counter })
      await expectError(res, 401, 'invalid_credentials')
    }
    const lines = warn.mock.calls.map(
      (args) => JSON.parse(String(args[0])) as Record<string, unknown>,
    )
    const regressions = lines.filter((l) => /counter went backwards/.test(String(l.msg)))
    expect(regressions.map((l) => l.sub)).toEqual([user.sub, user.sub, user.sub])
    expect((await passkeyRow(authenticator.id))?.counter).toBe(5)
    expect((await passkeyLogin(authenticator, { counter: 6 })).res.status).toBe(200)
  })

  it('accepts an authenticator that keeps no counter (always 0)', async () => {
    const { authenticator } = await userWithPasskey()
    for (let i = 0; i < 2; i += 1)
      expect((await passkeyLogin(authenticator, { counter: 0 })).res.status).toBe(200)
  })

  it('refuses a disabled user (401)', async () => {
    const { authenticator, user } = await userWithPasskey()
    const res = await edge.call(`/admin/users/${encodeURIComponent(user.username)}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(res.status).toBeLessThan(300)
    await expectError((await passkeyLogin(authenticator)).res, 401, 'invalid_credentials')
  })

  it('refuses a sign-up challenge used to log in (400)', async () => {
    const { authenticator } = await userWithPasskey()
    const opts = await edge.post('/auth/passkeys/signup/options', { username: uniqueName() })
    const { challengeId, options } = (await opts.json()) as {
      challengeId: string
      options: { challenge: string }
    }
    const response = await authenticator.get({ challenge: options.challenge, rpId: 'localhost' })
    await expectError(
      await edge.post('/auth/passkeys/login', { challengeId, response }),
      400,
      'invalid_request',
    )
  })

  it(`is 429 past ${PASSKEY_OPTIONS_PER_ADDRESS} options from one address`, async () => {
    const address = freshAddress()
    for (let i = 0; i < PASSKEY_OPTIONS_PER_ADDRESS; i += 1) {
      const res = await edge.post(
        '/auth/passkeys/login/options',
        {},
        { 'cf-connecting-ip': address },
      )
      expect(res.status).toBe(200)
    }
    const res = await edge.post('/auth/passkeys/login/options', {}, { 'cf-connecting-ip': address })
    await expectError(res, 429, 'rate_limited')
  })
})

describe('passkeys: sign-up, delete, rename', () => {
  async function signupOptions(username: string) {
    const opts = await edge.post('/auth/passkeys/signup/options', { username })
    expect(opts.status).toBe(200)
    return (await opts.json()) as { challengeId: string; options: Creation }
  }

  async function signup(username = uniqueName('pk')) {
    const authenticator = new SoftAuthenticator(ORIGIN)
    const { challengeId, options } = await signupOptions(username)
    expect(options.authenticatorSelection?.residentKey).toBe('required')
    const response = await authenticator.create(options)
    const res = await edge.post('/auth/passkeys/signup', { username, challengeId, response })
    return { res, username, authenticator }
  }

  it('creates a passkey-only account: 201, a passkey session, no password login', async () => {
    const { res, username, authenticator } = await signup()
    expect(res.status, await res.clone().text()).toBe(201)
    const tokens = (await res.json()) as TokenResponse
    const sub = decodeJwt(tokens.access_token).sub
    expect(decodeJwt(tokens.access_token).name).toBe(username)
    expect(new TextDecoder().decode(Buffer.from(authenticator.userHandle, 'base64url'))).toBe(sub)
    // No password works, and it is the same 401 as a wrong one.
    await expectError(await login(username, 'anything-at-all'), 401, 'invalid_credentials')
    const { res: again } = await passkeyLogin(authenticator)
    expect(again.status).toBe(200)
    expect(decodeJwt(((await again.json()) as TokenResponse).access_token).sub).toBe(sub)
  })

  it('is 403 signup_closed when SIGNUP is off, options and sign-up alike', async () => {
    const res = await closed.post('/auth/passkeys/signup/options', { username: uniqueName() })
    await expectError(res, 403, 'signup_closed')
    const username = uniqueName()
    const { challengeId, options } = await signupOptions(username)
    const late = await closed.post('/auth/passkeys/signup', {
      username,
      challengeId,
      response: await new SoftAuthenticator(ORIGIN).create(options),
    })
    await expectError(late, 403, 'signup_closed')
  })

  it('binds the challenge to its username (400 for another name)', async () => {
    const { options, challengeId } = await signupOptions(uniqueName())
    const res = await edge.post('/auth/passkeys/signup', {
      username: uniqueName('other'),
      challengeId,
      response: await new SoftAuthenticator(ORIGIN).create(options),
    })
    await expectError(res, 400, 'invalid_request')
  })

  it('is 409 for a taken username', async () => {
    const taken = await createUser()
    const { res } = await signup(taken.username)
    await expectError(res, 409, 'conflict')
  })

  it("refuses to delete a passkey-only account's last passkey (409), allows it once there is another", async () => {
    const { res, authenticator } = await signup()
    const tokens = (await res.json()) as TokenResponse
    const del = (id: string) =>
      edge.call(`/auth/passkeys/${id}`, { method: 'DELETE', headers: bearer(tokens) })
    await expectError(await del(authenticator.id), 409, 'conflict')
    const second = new SoftAuthenticator(ORIGIN)
    const options = await registerOptions(tokens)
    expect(
      (
        await edge.post(
          '/auth/passkeys/register',
          { response: await second.create(options) },
          bearer(tokens),
        )
      ).status,
    ).toBe(201)
    // Both at once: at most one goes, so one way in always stays.
    const both = await Promise.all([del(authenticator.id), del(second.id)])
    expect(both.map((r) => r.status).sort()).toEqual([204, 409])
    const left = await edge.call('/auth/passkeys', { headers: bearer(tokens) })
    expect(((await left.json()) as { passkeys: unknown[] }).passkeys).toHaveLength(1)
  })

  it("counts a federated link as a way to log in: a passkey-only account's last passkey goes once it has one", async () => {
    const { res, authenticator } = await signup()
    const tokens = (await res.json()) as TokenResponse
    const sub = decodeJwt(tokens.access_token).sub!
    const del = () =>
      edge.call(`/auth/passkeys/${authenticator.id}`, { method: 'DELETE', headers: bearer(tokens) })
    await expectError(await del(), 409, 'conflict')
    await env.DB.prepare(
      `INSERT INTO federated_links (provider, upstream_sub, sub, created_at) VALUES ('corp', ?, ?, 0)`,
    )
      .bind(`upstream-${sub}`, sub)
      .run()
    expect((await del()).status).toBe(204)
  })

  it("lets a user with a password delete their only passkey (204), and not another user's (404)", async () => {
    const { tokens, authenticator } = await userWithPasskey()
    const other = await loginOk(await createUser())
    await expectError(
      await edge.call(`/auth/passkeys/${authenticator.id}`, {
        method: 'DELETE',
        headers: bearer(other),
      }),
      404,
      'not_found',
    )
    const res = await edge.call(`/auth/passkeys/${authenticator.id}`, {
      method: 'DELETE',
      headers: bearer(tokens),
    })
    expect(res.status).toBe(204)
    expect(await passkeyRow(authenticator.id)).toBeNull()
    await expectError((await passkeyLogin(authenticator)).res, 401, 'invalid_credentials')
  })

  it("renames a passkey (200), refuses an empty or over-long name (400) and another user's (404)", async () => {
    const { tokens, authenticator } = await userWithPasskey()
    const patch = (name: unknown, t = tokens) =>
      edge.call(`/auth/passkeys/${authenticator.id}`, {
        method: 'PATCH',
        headers: { ...bearer(t), 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      })
    const res = await patch('Phone')
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ id: authenticator.id, name: 'Phone' })
    await expectError(await patch(''), 400, 'invalid_request')
    await expectError(await patch('x'.repeat(65)), 400, 'invalid_request')
    await expectError(await patch('Mine', await loginOk(await createUser())), 404, 'not_found')
  })
})

describe('passkeys: erasure', () => {
  it("DELETE /admin/users/:username deletes the user's passkeys: they log in no more", async () => {
    const { user, authenticator } = await userWithPasskey()
    const res = await edge.call(`/admin/users/${encodeURIComponent(user.username)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(204)
    expect(await passkeyRow(authenticator.id)).toBeNull()
    await expectError((await passkeyLogin(authenticator)).res, 401, 'invalid_credentials')
  })
})

describe('passkey challenges: expiry and pruning', () => {
  it('the cron prunes expired challenges only', async () => {
    const { challengeId } = await loginOptions()
    const now = Math.floor(Date.now() / 1000)
    await pruneAccounts(env.DB, now)
    expect(
      await env.DB.prepare('SELECT 1 AS one FROM passkey_challenges WHERE id = ?')
        .bind(challengeId)
        .first(),
    ).not.toBeNull()
    await pruneAccounts(env.DB, now + 5 * 60 + 1)
    expect(
      await env.DB.prepare('SELECT 1 AS one FROM passkey_challenges WHERE id = ?')
        .bind(challengeId)
        .first(),
    ).toBeNull()
  })

  it('refuses a challenge older than 5 minutes (400)', async () => {
    const { authenticator } = await userWithPasskey()
    const { challengeId, options } = await loginOptions()
    await env.DB.prepare('UPDATE passkey_challenges SET expires_at = ? WHERE id = ?')
      .bind(Math.floor(Date.now() / 1000) - 1, challengeId)
      .run()
    const response = await authenticator.get(options)
    await expectError(
      await edge.post('/auth/passkeys/login', { challengeId, response }),
      400,
      'invalid_request',
    )
  })
})
