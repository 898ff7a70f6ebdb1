import { env } from 'cloudflare:workers'
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { verifyAccessToken } from '../../../shared/verify-access-token.ts'
import {
  ADMIN_TOKEN,
  call,
  createUser,
  expectError,
  freshAddress,
  login,
  loginOk,
  postJson,
  uniqueName,
  type TestUser,
} from '../support.ts'

let alice: TestUser

beforeAll(async () => {
  alice = await createUser({ scope: 'chat:read chat:write', rooms: ['lobby', 'team:a:*'] })
})

async function sha256url(text: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)),
  )
  return btoa(String.fromCharCode(...digest))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')
}

describe('POST /auth/login: success', () => {
  it('answers 200 with exactly the contract token response, marked no-store', async () => {
    const res = await login(alice.username, alice.password)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('content-type')).toMatch(/^application\/json\b/)
    const body = (await res.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_expires_in',
      'refresh_token',
      'scope',
      'token_type',
    ])
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      refresh_expires_in: 2592000,
      scope: 'chat:read chat:write',
    })
    expect(body.access_token).toEqual(expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/))
    expect(body.refresh_token).toEqual(expect.any(String))
  })

  it('issues an at+jwt access token with every contract claim, and sub is not the username', async () => {
    const { access_token } = await loginOk(alice)
    const header = decodeProtectedHeader(access_token)
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) })
    const claims = decodeJwt(access_token)
    expect(Object.keys(claims).sort()).toEqual(
      ['aud', 'exp', 'iat', 'iss', 'jti', 'name', 'nbf', 'rooms', 'scope', 'sid', 'sub'].sort(),
    )
    expect(claims).toMatchObject({
      iss: env.ISSUER,
      aud: 'realtime',
      sub: alice.sub,
      name: alice.username,
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'team:a:*'],
    })
    expect(claims.sub).not.toBe(alice.username)
    expect(claims.sid).toEqual(expect.any(String))
    expect(claims.jti).toEqual(expect.any(String))
    expect(claims.nbf).toBe(claims.iat)
    expect(claims.exp! - claims.iat!).toBe(300)
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(60)
  })

  it('issues an access token that verifies against the published JWKS', async () => {
    const { access_token } = await loginOk(alice)
    const jwks = (await (await call('/.well-known/jwks.json')).json()) as Parameters<
      typeof createLocalJWKSet
    >[0]
    const { claims } = await verifyAccessToken(access_token, createLocalJWKSet(jwks), {
      issuer: env.ISSUER,
      audience: 'realtime',
    })
    expect(claims.sub).toBe(alice.sub)
  })

  it('issues a 256-bit refresh token that is stored only as its SHA-256', async () => {
    const { refresh_token } = await loginOk(alice)
    expect(refresh_token).toMatch(/^[A-Za-z0-9_-]{43,}$/)
    const raw = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?',
    )
      .bind(refresh_token)
      .first<{ n: number }>()
    expect(raw?.n).toBe(0)
    const hashed = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = ?',
    )
      .bind(await sha256url(refresh_token))
      .first<{ n: number }>()
    expect(hashed?.n).toBe(1)
  })

  it('starts a new session with its own sid, jti and refresh token on every login', async () => {
    const a = await loginOk(alice)
    const b = await loginOk(alice)
    expect(decodeJwt(a.access_token).sid).not.toBe(decodeJwt(b.access_token).sid)
    expect(decodeJwt(a.access_token).jti).not.toBe(decodeJwt(b.access_token).jti)
    expect(a.refresh_token).not.toBe(b.refresh_token)
  })
})

describe('POST /auth/login: invalid credentials', () => {
  let disabled: TestUser

  beforeAll(async () => {
    disabled = await createUser()
    const res = await call(`/admin/users/${encodeURIComponent(disabled.username)}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(204)
  })

  const cases = () =>
    [
      ['an unknown user', uniqueName('ghost'), 'whatever-password'],
      ['a wrong password', alice.username, 'not-alices-password'],
      ['a wrong-case password', alice.username, alice.password.toUpperCase()],
      ['a disabled user with the right password', disabled.username, disabled.password],
    ] as const

  it('answers 401 invalid_credentials, without a bearer challenge, for each failure kind', async () => {
    for (const [, username, password] of cases()) {
      const res = await login(username, password)
      await expectError(res, 401, 'invalid_credentials', [password])
      expect(res.headers.get('www-authenticate')).toBeNull()
    }
  })

  it('gives an unknown user, a wrong password and a disabled user byte-identical responses', async () => {
    const seen = new Set<string>()
    for (const [, username, password] of cases()) {
      const res = await login(username, password)
      const headers = [...res.headers].filter(([name]) => name !== 'date')
      seen.add(JSON.stringify({ status: res.status, headers, body: await res.text() }))
    }
    expect(seen.size).toBe(1)
  })
})

describe('POST /auth/login: malformed requests', () => {
  const long = (n: number, ch = 'a') => ch.repeat(n)
  const table: [string, unknown][] = [
    ['an empty object', {}],
    ['a missing username', { password: 'p' }],
    ['a missing password', { username: 'alice' }],
    ['a numeric username', { username: 42, password: 'p' }],
    ['a null username', { username: null, password: 'p' }],
    ['an array username', { username: ['alice'], password: 'p' }],
    ['an object username', { username: { $ne: '' }, password: 'p' }],
    ['a boolean username', { username: true, password: 'p' }],
    ['a numeric password', { username: 'alice', password: 1234 }],
    ['a null password', { username: 'alice', password: null }],
    ['an array password', { username: 'alice', password: ['p'] }],
    ['an object password', { username: 'alice', password: { $gt: '' } }],
    ['an empty username', { username: '', password: 'p' }],
    ['an empty password', { username: 'alice', password: '' }],
    ['a 65-character username', { username: long(65), password: 'p' }],
    ['a 65-emoji username', { username: long(65, '🦊'), password: 'p' }],
    ['a 1025-character password', { username: 'alice', password: long(1025) }],
    ['an unknown extra key', { username: 'alice', password: 'p', remember: true }],
    ['a lone high surrogate username', { username: '\ud800', password: 'p' }],
    ['a lone low surrogate password', { username: 'alice', password: 'pass\udc00word' }],
    ['an array body', ['alice', 'p']],
    ['a string body', 'alice:p'],
    ['a null body', null],
    ['a number body', 42],
    ['a boolean body', true],
  ]

  it.each(table)('answers 400 invalid_request for %s', async (_, body) => {
    const res = await postJson('/auth/login', body, { 'cf-connecting-ip': freshAddress() })
    await expectError(res, 400, 'invalid_request')
  })

  it('refuses a __proto__ key as an unknown key, not as a prototype', async () => {
    const text = `{"username":"${alice.username}","password":"${alice.password}","__proto__":{"admin":true}}`
    const res = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: text,
    })
    await expectError(res, 400, 'invalid_request', [alice.password])
  })

  it('names the field and the rule in error_description, never the value sent', async () => {
    const secret = `secret-${'x'.repeat(1025)}`
    const res = await postJson('/auth/login', { username: 'alice', password: secret })
    const body = await expectError(res, 400, 'invalid_request', [secret, secret.slice(0, 16)])
    expect(body.error_description).toContain('password')
  })

  it('accepts a 64-character username and a 1024-character password as well-formed (401, not 400)', async () => {
    await expectError(await login(long(64), 'p'), 401, 'invalid_credentials')
    await expectError(await login(long(64, '🦊'), 'p'), 401, 'invalid_credentials')
    await expectError(await login('alice', long(1024)), 401, 'invalid_credentials')
  })

  it('does not count malformed requests as failed logins', async () => {
    const address = freshAddress()
    for (let i = 0; i < 8; i++) {
      const res = await postJson(
        '/auth/login',
        { username: alice.username, password: 7 },
        { 'cf-connecting-ip': address },
      )
      expect(res.status).toBe(400)
    }
    await loginOk(alice, address)
  })
})

describe('POST /auth/login: hostile usernames', () => {
  async function userCount() {
    const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM users').first<{ n: number }>()
    return row!.n
  }

  it.each([
    ["alice' OR '1'='1"],
    ["alice' --"],
    ['bob"; DROP TABLE users; --'],
    ["'; DELETE FROM sessions; --"],
    ['%'],
    ['_'],
    ['*'],
    ['a\u0000b'],
    ['\u202eecila'],
  ])('answers 401 for %j and leaves the users table intact', async (username) => {
    const before = await userCount()
    const res = await login(username, alice.password)
    await expectError(res, 401, 'invalid_credentials')
    expect(await userCount()).toBe(before)
    expect(before).toBeGreaterThan(0)
  })

  it('does not let SQL in the password log anyone in', async () => {
    await expectError(await login(alice.username, "' OR '1'='1"), 401, 'invalid_credentials')
  })
})

describe('POST /auth/login: unicode usernames', () => {
  let zoe: TestUser

  beforeAll(async () => {
    zoe = await createUser({ username: 'Zo\u00eb' })
  })

  it.each([
    ['the same NFC form', 'Zo\u00eb'],
    ['lower case NFC', 'zo\u00eb'],
    ['lower case NFD', 'zoe\u0308'],
    ['upper case NFD', 'ZOE\u0308'],
    ['full-width letters', '\uff3a\uff4f\u00eb'],
  ])('logs Zoë in when she types %s', async (_, username) => {
    const { access_token } = await loginOk({ username, password: zoe.password })
    const claims = decodeJwt(access_token)
    expect(claims.sub).toBe(zoe.sub)
    expect(claims.name).toBe('Zo\u00eb')
  })

  it('accepts an emoji username of 64 code points and logs it in', async () => {
    const username = '🦊'.repeat(63) + '🐝'
    const user = await createUser({ username })
    const { access_token } = await loginOk(user)
    expect(decodeJwt(access_token).name).toBe(username)
  })

  it('matches passwords after NFKC normalization, so composed and decomposed forms agree', async () => {
    const user = await createUser({ password: 'cafe\u0301-pa\u017f\u017f' })
    await loginOk({ username: user.username, password: 'caf\u00e9-pass' })
    await expectError(await login(user.username, 'cafe-pass'), 401, 'invalid_credentials')
  })
})
