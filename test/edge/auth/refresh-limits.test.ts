import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { createSession, revokeSession, rotateRefreshToken } from '../../../edge/auth/sessions.ts'
import { loginThrottle } from '../../../edge/auth/throttle.ts'
import { findUserBySub } from '../../../edge/auth/users.ts'
import {
  MAX_SESSIONS_PER_USER,
  USER_AGENT_MAX_CHARS,
  REFRESH_LIMIT_PER_ADDRESS,
  REFRESH_LIMIT_PER_SESSION,
  REFRESH_THROTTLE_WINDOW_SECONDS,
} from '../../../edge/constants.ts'
import {
  createUser,
  expectError,
  feed,
  freshAddress,
  loginOk,
  refresh,
  sidOf,
  type TestUser,
} from '../support.ts'

const WINDOW = REFRESH_THROTTLE_WINDOW_SECONDS
/** A fixed clock for the session-cap units. */
const T0 = 1_763_800_000

async function userRow() {
  const { sub } = await createUser()
  const row = await findUserBySub(env.DB, sub)
  if (!row) throw new Error('test user not found')
  return row
}

/** Drive the worker's clock (its `now` is read from `Date.now()` once per request). */
function setClock(ms: number) {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(ms)
}

afterEach(() => {
  vi.useRealTimers()
})

async function expectThrottled(res: Response, secrets: string[] = []) {
  const retryAfter = res.headers.get('retry-after')
  await expectError(res, 429, 'rate_limited', secrets)
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
  expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW)
  return Number(retryAfter)
}

async function rows(sid: string) {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE sid = ?')
    .bind(sid)
    .first<{ n: number }>()
  return row!.n
}

let alice: TestUser

beforeAll(async () => {
  alice = await createUser()
})

describe('POST /auth/refresh: per-session limit', () => {
  it('answers 300 refreshes in a burst with the limit admitted and 429 Retry-After for the rest, adding no rows', async () => {
    const t0 = Date.now()
    setClock(t0)
    const tokens = await loginOk(alice)
    let current = tokens.refresh_token
    const statuses: number[] = []
    for (let i = 0; i < 300; i++) {
      const res = await refresh(current)
      statuses.push(res.status)
      if (res.status === 200) current = ((await res.json()) as TokenResponse).refresh_token
      else await expectThrottled(res, [current])
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(REFRESH_LIMIT_PER_SESSION)
    expect(statuses.filter((s) => s === 429)).toHaveLength(300 - REFRESH_LIMIT_PER_SESSION)
    // The login's token plus one per admitted refresh: the refused ones stored nothing.
    expect(await rows(sidOf(tokens))).toBe(REFRESH_LIMIT_PER_SESSION + 1)

    // The throttled token was not spent: once the window has passed, it works.
    setClock(t0 + (WINDOW - 1) * 1000)
    await expectThrottled(await refresh(current))
    setClock(t0 + WINDOW * 1000 + 1000)
    expect((await refresh(current)).status).toBe(200)
  })

  it('still treats a spent token as reuse while the session is throttled (never hidden behind a 429)', async () => {
    setClock(Date.now())
    const first = await loginOk(alice)
    let current = first.refresh_token
    for (let i = 0; i < REFRESH_LIMIT_PER_SESSION; i++) {
      const res = await refresh(current)
      expect(res.status).toBe(200)
      current = ((await res.json()) as TokenResponse).refresh_token
    }
    await expectThrottled(await refresh(current))
    await expectError(await refresh(first.refresh_token), 401, 'invalid_grant')
    const { events } = await feed(0)
    expect(events.filter((e) => e.kind === 'session' && e.id === sidOf(first))).toHaveLength(1)
    await expectError(await refresh(current), 401, 'invalid_grant')
  })
})

describe('POST /auth/refresh: per-address limit', () => {
  it('charges every attempt from an address, unknown tokens included, then refuses even a valid token', async () => {
    setClock(Date.now())
    const address = freshAddress()
    const tokens = await loginOk(alice)
    for (let i = 0; i < REFRESH_LIMIT_PER_ADDRESS; i++) {
      await expectError(
        await refresh(`not-a-real-token-${i}-padding`, address),
        401,
        'invalid_grant',
      )
    }
    await expectThrottled(await refresh(tokens.refresh_token, address), [tokens.refresh_token])
    // Refused before any D1 work: the token is still unspent, and works from elsewhere.
    expect((await refresh(tokens.refresh_token, freshAddress())).status).toBe(200)
  })

  it('admits the limit per window in the Durable Object, refused ones uncounted (injected clock)', async () => {
    const t0 = 1_800_000_000
    const stub = loginThrottle(env, freshAddress())
    for (let i = 0; i < 3; i++)
      expect(await stub.take('refresh', 3, WINDOW, t0 + i)).toEqual({ allowed: true })
    expect(await stub.take('refresh', 3, WINDOW, t0 + 10)).toEqual({
      allowed: false,
      retryAfterSeconds: WINDOW - 10,
    })
    for (let i = 0; i < 50; i++)
      expect((await stub.take('refresh', 3, WINDOW, t0 + 20)).allowed).toBe(false)
    expect(await stub.take('refresh', 3, WINDOW, t0 + WINDOW)).toEqual({ allowed: true })
    // Login failures of the same address are a separate count.
    expect(await stub.attempt('alice', t0 + WINDOW)).toEqual({ allowed: true })
    const stored = await runInDurableObject(stub, (_, state) =>
      state.storage.get<[string, { times: number[] }][]>('hits'),
    )
    expect(stored?.[0]?.[1].times.length).toBeLessThanOrEqual(3)
  })
})

describe('login: live sessions per user', () => {
  it(
    "keeps a user's first session through an 11th login (docs/protocol.md §3 v1.2: the cap is 100)",
    { timeout: 180_000 },
    async () => {
      const user = await createUser()
      const first = await loginOk(user)
      for (let i = 0; i < 10; i++) await loginOk(user)
      expect(MAX_SESSIONS_PER_USER).toBe(100)
      const capped = await env.DB.prepare(
        `SELECT COUNT(*) AS n FROM sessions WHERE sub = ? AND revoked_why = 'session_cap'`,
      )
        .bind(user.sub)
        .first<{ n: number }>()
      expect(capped?.n).toBe(0)
      expect((await refresh(first.refresh_token)).status).toBe(200)
    },
  )

  it('revokes the least recently used session past the cap, records its event, and leaves the others live', async () => {
    const user = await userRow()
    const opts = { sessionTtlSeconds: 3600, maxSessions: 3, accessTokenTtlSeconds: 300 }
    const rotate = { accessTokenTtlSeconds: 300, limitPerSession: 1000 }
    const a = await createSession(env.DB, user, T0, opts)
    const b = await createSession(env.DB, user, T0 + 1, opts)
    const c = await createSession(env.DB, user, T0 + 2, opts)
    // a is the oldest but was refreshed last: b is now the least recently used.
    const aNext = await rotateRefreshToken(env.DB, a.refreshToken, T0 + 3, rotate)
    const d = await createSession(env.DB, user, T0 + 4, opts)

    const { results: events } = await env.DB.prepare(
      `SELECT kind, id FROM revocations WHERE id IN (?, ?, ?, ?)`,
    )
      .bind(a.sid, b.sid, c.sid, d.sid)
      .all()
    expect(events).toEqual([{ kind: 'session', id: b.sid }])
    const why = await env.DB.prepare(
      'SELECT sid, revoked_why FROM sessions WHERE sub = ? AND revoked_at IS NOT NULL',
    )
      .bind(user.sub)
      .all<{ sid: string; revoked_why: string }>()
    expect(why.results).toEqual([{ sid: b.sid, revoked_why: 'session_cap' }])
    await expect(rotateRefreshToken(env.DB, b.refreshToken, T0 + 5, rotate)).rejects.toMatchObject({
      code: 'invalid_grant',
    })
    for (const live of [aNext, c, d])
      await expect(
        rotateRefreshToken(env.DB, live.refreshToken, T0 + 5, rotate),
      ).resolves.toBeDefined()
  })

  it('counts only live sessions: logged-out and expired ones do not use up the cap', async () => {
    const user = await userRow()
    const opts = { sessionTtlSeconds: 3600, maxSessions: 2, accessTokenTtlSeconds: 300 }
    const expired = await createSession(env.DB, user, T0 - 7200, opts)
    const out = await createSession(env.DB, user, T0, opts)
    await revokeSession(env.DB, out.sid, T0, 'logout', 300)
    await createSession(env.DB, user, T0 + 1, opts)
    await createSession(env.DB, user, T0 + 2, opts)
    const capped = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM sessions WHERE sub = ? AND revoked_why = 'session_cap'`,
    )
      .bind(user.sub)
      .first<{ n: number }>()
    expect(capped?.n).toBe(0)
    expect(expired.sid).not.toBe(out.sid)
  })

  it('keeps method, creation, last use and user agent on the row; a refresh moves last use', async () => {
    const user = await userRow()
    const opts = { sessionTtlSeconds: 3600, maxSessions: 5, accessTokenTtlSeconds: 300 }
    const grant = await createSession(env.DB, user, T0, {
      ...opts,
      userAgent: 'x'.repeat(USER_AGENT_MAX_CHARS + 50),
    })
    await rotateRefreshToken(env.DB, grant.refreshToken, T0 + 9, {
      accessTokenTtlSeconds: 300,
      limitPerSession: 1000,
    })
    const row = await env.DB.prepare(
      'SELECT method, created_at, last_used_at, user_agent FROM sessions WHERE sid = ?',
    )
      .bind(grant.sid)
      .first<{ method: string; created_at: number; last_used_at: number; user_agent: string }>()
    expect(row).toEqual({
      method: 'password',
      created_at: T0,
      last_used_at: T0 + 9,
      user_agent: 'x'.repeat(USER_AGENT_MAX_CHARS),
    })
  })
})
