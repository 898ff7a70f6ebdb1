import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { app } from '../../../edge/app.ts'
import {
  CURRENT_SCRYPT_PARAMS,
  SCRYPT_LIMITS,
  burnPasswordCheck,
  hashPassword,
  verifyPassword,
  withinLimits,
} from '../../../edge/auth/password.ts'
import { createUser, expectError, freshAddress, login, loginOk, userRow } from '../support.ts'

const SALT = 'c2FsdHNhbHRzYWx0c2FsdA==' // 16 bytes
const KEY = 'a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=' // 32 bytes

describe('withinLimits', () => {
  it('holds for the current parameters, under production workerd N·r·p <= 2^20', () => {
    const { ln, r, p } = CURRENT_SCRYPT_PARAMS
    expect(withinLimits(CURRENT_SCRYPT_PARAMS)).toBe(true)
    expect(2 ** ln * r * p).toBeLessThanOrEqual(2 ** 20)
    expect(SCRYPT_LIMITS.maxNrp).toBe(2 ** 20)
  })

  it.each([
    [{ ln: 14, r: 8, p: 8 }, true], // N·r·p = 2^20 exactly
    [{ ln: 14, r: 8, p: 9 }, false], // just over 2^20
    [{ ln: 17, r: 8, p: 1 }, false], // 2^20 N·r·p, but 128 MiB of memory
    [{ ln: 15, r: 8, p: 1 }, true], // 32 MiB, the memory cap
    [{ ln: 16, r: 8, p: 1 }, false], // 64 MiB
    [{ ln: 9, r: 8, p: 1 }, false], // below the floor
    [{ ln: 14, r: 0, p: 1 }, false],
    [{ ln: 14, r: 8, p: 0 }, false],
  ])('judges %j within the limits: %s', (params, expected) => {
    expect(withinLimits(params)).toBe(expected)
  })
})

describe('hashPassword and verifyPassword', () => {
  it('produces a self-describing scrypt hash with the current parameters and a random salt', async () => {
    const a = await hashPassword('correct horse')
    const b = await hashPassword('correct horse')
    expect(a).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/)
    expect(a).not.toBe(b)
    expect(a).not.toContain('correct horse')
  })

  it('verifies the right password and refuses a wrong one as a mismatch', async () => {
    const stored = await hashPassword('correct horse')
    expect(await verifyPassword('correct horse', stored)).toEqual({ ok: true, needsRehash: false })
    expect(await verifyPassword('correct horsf', stored)).toEqual({ ok: false, reason: 'mismatch' })
    expect(await verifyPassword('', stored)).toEqual({ ok: false, reason: 'mismatch' })
  })

  it('throws TypeError when asked to hash with parameters above the production cap', async () => {
    await expect(hashPassword('x', { ln: 15, r: 8, p: 5 })).rejects.toThrow(TypeError)
  })

  it.each([
    ['ln=12', { ln: 12, r: 8, p: 5 }],
    ['r=4', { ln: 14, r: 4, p: 5 }],
    ['p=1', { ln: 14, r: 8, p: 1 }],
  ])('asks for a rehash of a hash with weaker parameters (%s)', async (_, params) => {
    const stored = await hashPassword('pw', params)
    expect(await verifyPassword('pw', stored)).toEqual({ ok: true, needsRehash: true })
  })

  it.each([
    ['N·r·p over 2^20', `$scrypt$ln=20,r=8,p=5$${SALT}$${KEY}`],
    ['memory over the cap', `$scrypt$ln=17,r=8,p=1$${SALT}$${KEY}`],
    ['ln below the floor', `$scrypt$ln=1,r=1,p=1$${SALT}$${KEY}`],
    ['r of zero', `$scrypt$ln=14,r=0,p=5$${SALT}$${KEY}`],
    ['an empty string', ''],
    ['plain text', 'hunter2'],
    ['a truncated hash', `$scrypt$ln=14,r=8,p=5$${SALT}`],
    ['a short salt', `$scrypt$ln=14,r=8,p=5$c2FsdA==$${KEY}`],
    ['a short key', `$scrypt$ln=14,r=8,p=5$${SALT}$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=`],
    ['a key over 64 bytes', `$scrypt$ln=14,r=8,p=5$${SALT}$${'a2V5'.repeat(30)}`],
    ['non-base64 characters', `$scrypt$ln=14,r=8,p=5$${SALT.replace('c', '!')}$${KEY}`],
    ['reordered parameters', `$scrypt$r=8,ln=14,p=5$${SALT}$${KEY}`],
    ['a three-digit ln', `$scrypt$ln=140,r=8,p=5$${SALT}$${KEY}`],
    ['trailing data', `$scrypt$ln=14,r=8,p=5$${SALT}$${KEY}$extra`],
    ['a newline suffix', `$scrypt$ln=14,r=8,p=5$${SALT}$${KEY}\n`],
    ['an argon2 hash', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA'],
    ['a bcrypt hash', '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy'],
    ['a PBKDF2 hash', 'pbkdf2_sha256$600000$salt$hash'],
  ])('treats %s as unsupported_hash without throwing', async (_, stored) => {
    await expect(verifyPassword('pw', stored)).resolves.toEqual({
      ok: false,
      reason: 'unsupported_hash',
    })
  })

  it('burnPasswordCheck resolves without throwing for any password', async () => {
    await expect(burnPasswordCheck('anything')).resolves.toBeUndefined()
    await expect(burnPasswordCheck('edgegate-dummy-password')).resolves.toBeUndefined()
  })
})

describe('stored hashes at login', () => {
  async function setHash(sub: string, hash: string) {
    await env.DB.prepare('UPDATE users SET password_hash = ? WHERE sub = ?').bind(hash, sub).run()
  }

  it('answers 401 invalid_credentials, never 500, for a stored hash above the cap', async () => {
    const user = await createUser()
    await setHash(user.sub, `$scrypt$ln=20,r=8,p=5$${SALT}$${KEY}`)
    await expectError(await login(user.username, user.password), 401, 'invalid_credentials')
  })

  it('answers 401 invalid_credentials, never 500, for a corrupt stored hash', async () => {
    const user = await createUser()
    await setHash(user.sub, 'corrupt')
    await expectError(await login(user.username, user.password), 401, 'invalid_credentials')
  })

  it('upgrades a stored ln=12 hash to the current parameters on the next successful login', async () => {
    const user = await createUser()
    const weak = await hashPassword(user.password, { ln: 12, r: 8, p: 5 })
    await setHash(user.sub, weak)

    const ctx = createExecutionContext()
    const req = new Request('http://edge.test/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshAddress() },
      body: JSON.stringify({ username: user.username, password: user.password }),
    })
    const res = await app.fetch(req, env, ctx)
    expect(res.status).toBe(200)
    await waitOnExecutionContext(ctx)

    const row = await userRow(user.username)
    expect(row?.password_hash).toMatch(/^\$scrypt\$ln=14,r=8,p=5\$/)
    expect(row?.password_hash).not.toBe(weak)
    expect(await verifyPassword(user.password, row!.password_hash)).toEqual({
      ok: true,
      needsRehash: false,
    })
    await loginOk(user)
  })

  it('does not rehash on a failed login', async () => {
    const user = await createUser()
    const weak = await hashPassword(user.password, { ln: 12, r: 8, p: 5 })
    await setHash(user.sub, weak)
    const ctx = createExecutionContext()
    const req = new Request('http://edge.test/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshAddress() },
      body: JSON.stringify({ username: user.username, password: 'wrong' }),
    })
    expect((await app.fetch(req, env, ctx)).status).toBe(401)
    await waitOnExecutionContext(ctx)
    expect((await userRow(user.username))?.password_hash).toBe(weak)
  })
})
