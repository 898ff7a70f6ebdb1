import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import {
  ADMIN_TOKEN,
  call,
  createUser,
  expectError,
  feed,
  loginOk,
  postJson,
  refresh,
  sidOf,
  type TestUser,
} from '../support.ts'

let alice: TestUser

beforeAll(async () => {
  alice = await createUser()
})

async function sessionEvents(sid: string) {
  const { events } = await feed(0)
  return events.filter((e) => e.kind === 'session' && e.id === sid)
}

async function revokedWhy(sid: string) {
  const row = await env.DB.prepare('SELECT revoked_why FROM sessions WHERE sid = ?')
    .bind(sid)
    .first<{ revoked_why: string | null }>()
  return row?.revoked_why
}

describe('POST /auth/refresh: rotation', () => {
  it('answers 200 with a fresh token response for the same session, marked no-store', async () => {
    const first = await loginOk(alice)
    const res = await refresh(first.refresh_token)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const next = (await res.json()) as TokenResponse
    expect(Object.keys(next).sort()).toEqual(Object.keys(first).sort())
    expect(next).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: alice.scope })
    expect(next.refresh_token).not.toBe(first.refresh_token)
    expect(next.refresh_token).toMatch(/^[A-Za-z0-9_-]{43,}$/)
    const before = decodeJwt(first.access_token)
    const after = decodeJwt(next.access_token)
    expect(after).toMatchObject({ sub: alice.sub, sid: before.sid, name: alice.username })
    expect(after.jti).not.toBe(before.jti)
  })

  it('never extends the absolute session lifetime', async () => {
    const first = await loginOk(alice)
    const soon = Math.floor(Date.now() / 1000) + 120
    await env.DB.prepare('UPDATE sessions SET expires_at = ? WHERE sid = ?')
      .bind(soon, sidOf(first))
      .run()
    const res = await refresh(first.refresh_token)
    expect(res.status).toBe(200)
    const next = (await res.json()) as TokenResponse
    expect(next.refresh_expires_in).toBeGreaterThan(0)
    expect(next.refresh_expires_in).toBeLessThanOrEqual(120)
  })

  it('chains: each new refresh token works exactly once', async () => {
    let tokens = await loginOk(alice)
    for (let i = 0; i < 3; i++) {
      const res = await refresh(tokens.refresh_token)
      expect(res.status).toBe(200)
      tokens = (await res.json()) as TokenResponse
    }
    expect(await revokedWhy(sidOf(tokens))).toBeNull()
  })
})

describe('POST /auth/refresh: reuse and races', () => {
  it('answers 401 invalid_grant for a spent token and revokes the whole session', async () => {
    const first = await loginOk(alice)
    const sid = sidOf(first)
    const second = (await (await refresh(first.refresh_token)).json()) as TokenResponse

    await expectError(await refresh(first.refresh_token), 401, 'invalid_grant', [
      first.refresh_token,
    ])
    await expectError(await refresh(second.refresh_token), 401, 'invalid_grant', [
      second.refresh_token,
    ])
    expect(await revokedWhy(sid)).toBe('reuse')
  })

  it('records exactly one session revocation event for the reused family, in force past the access-token lifetime', async () => {
    const first = await loginOk(alice)
    const sid = sidOf(first)
    await refresh(first.refresh_token)
    await refresh(first.refresh_token)
    await refresh(first.refresh_token)
    const events = await sessionEvents(sid)
    expect(events).toHaveLength(1)
    const [event] = events
    expect(Object.keys(event!).sort()).toEqual(['at', 'cursor', 'id', 'kind', 'until'])
    expect(event!.until - event!.at).toBeGreaterThanOrEqual(300)
    expect(Math.abs(event!.at - Date.now() / 1000)).toBeLessThan(60)
  })

  it('lets exactly one of two racing refreshes with one token win, then revokes the session', async () => {
    const first = await loginOk(alice)
    const sid = sidOf(first)
    const results = await Promise.all([refresh(first.refresh_token), refresh(first.refresh_token)])
    expect(results.map((r) => r.status).sort()).toEqual([200, 401])
    const winner = results.find((r) => r.status === 200)!
    const loser = results.find((r) => r.status === 401)!
    await expectError(loser, 401, 'invalid_grant')
    const won = (await winner.json()) as TokenResponse
    await expectError(await refresh(won.refresh_token), 401, 'invalid_grant')
    expect(await revokedWhy(sid)).toBe('reuse')
    expect(await sessionEvents(sid)).toHaveLength(1)
  })

  it('does not touch other sessions of the same user when one family is reused', async () => {
    const victim = await loginOk(alice)
    const other = await loginOk(alice)
    await refresh(victim.refresh_token)
    await refresh(victim.refresh_token)
    expect((await refresh(other.refresh_token)).status).toBe(200)
  })
})

describe('POST /auth/refresh: refused grants', () => {
  it.each([
    ['an unknown well-formed token', 'A'.repeat(43)],
    ['a short garbage token', 'x'],
    ['whitespace', '   '],
    ['SQL', "' OR '1'='1' --"],
    ['a path', '../../../etc/passwd'],
    ['a 512-character token', 'z'.repeat(512)],
  ])('answers 401 invalid_grant for %s', async (_, token) => {
    await expectError(await refresh(token), 401, 'invalid_grant', token.length >= 8 ? [token] : [])
  })

  it('refuses an access token presented as a refresh token (longer than any refresh token: 400)', async () => {
    const { access_token } = await loginOk(alice)
    expect(access_token.length).toBeGreaterThan(512)
    const err = await expectError(await refresh(access_token), 400, 'invalid_request', [
      access_token,
    ])
    expect(err.error_description).toMatch(/^refresh_token: /)
  })

  it('answers 401 invalid_grant for a token whose session has expired, without revoking it as reuse', async () => {
    const tokens = await loginOk(alice)
    const sid = sidOf(tokens)
    await env.DB.prepare('UPDATE sessions SET expires_at = ? WHERE sid = ?')
      .bind(Math.floor(Date.now() / 1000) - 1, sid)
      .run()
    await expectError(await refresh(tokens.refresh_token), 401, 'invalid_grant')
    expect(await revokedWhy(sid)).toBeNull()
  })

  it('answers 401 invalid_grant for a token of a logged-out session', async () => {
    const tokens = await loginOk(alice)
    const out = await postJson('/auth/logout', { refresh_token: tokens.refresh_token })
    expect(out.status).toBe(204)
    await expectError(await refresh(tokens.refresh_token), 401, 'invalid_grant')
  })

  it("answers 401 invalid_grant for a disabled user's token, and does not spend it", async () => {
    const bob = await createUser()
    const tokens = await loginOk(bob)
    const res = await call(`/admin/users/${encodeURIComponent(bob.username)}/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    expect(res.status).toBe(204)
    await expectError(await refresh(tokens.refresh_token), 401, 'invalid_grant')
    const row = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM refresh_tokens WHERE sid = ? AND spent_at IS NOT NULL',
    )
      .bind(sidOf(tokens))
      .first<{ n: number }>()
    expect(row?.n).toBe(0)
  })
})

describe('POST /auth/refresh: malformed requests', () => {
  it.each([
    ['an empty object', {}],
    ['a numeric token', { refresh_token: 42 }],
    ['a null token', { refresh_token: null }],
    ['an array token', { refresh_token: ['a'] }],
    ['an object token', { refresh_token: { $ne: null } }],
    ['an empty token', { refresh_token: '' }],
    ['a 513-character token', { refresh_token: 'z'.repeat(513) }],
    ['an extra key', { refresh_token: 'abc', grant_type: 'refresh_token' }],
    ['the wrong key', { refreshToken: 'abc' }],
    ['an array body', ['abc']],
    ['a string body', 'abc'],
    ['a null body', null],
  ])('answers 400 invalid_request for %s', async (_, body) => {
    await expectError(await postJson('/auth/refresh', body), 400, 'invalid_request')
  })
})
