import { runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { loginThrottle } from '../../../edge/auth/throttle.ts'
import {
  MAX_SESSIONS_PER_USER,
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
    'revokes the oldest session past the cap, records its event, and leaves the others live',
    { timeout: 180_000 },
    async () => {
      const user = await createUser()
      const sessions: TokenResponse[] = []
      for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) sessions.push(await loginOk(user))
      const before = (await feed(0)).next
      const newest = await loginOk(user)
      const oldest = sidOf(sessions[0]!)

      const { events } = await feed(before)
      expect(events.filter((e) => e.kind === 'session')).toEqual([
        expect.objectContaining({ kind: 'session', id: oldest }),
      ])
      const why = await env.DB.prepare(
        'SELECT sid, revoked_why FROM sessions WHERE sub = ? AND revoked_at IS NOT NULL',
      )
        .bind(user.sub)
        .all<{ sid: string; revoked_why: string }>()
      expect(why.results).toEqual([{ sid: oldest, revoked_why: 'session_cap' }])
      await expectError(await refresh(sessions[0]!.refresh_token), 401, 'invalid_grant')
      for (const live of [...sessions.slice(1), newest])
        expect((await refresh(live.refresh_token)).status).toBe(200)
    },
  )

  it(
    'counts only live sessions: logged-out and expired ones do not use up the cap',
    { timeout: 180_000 },
    async () => {
      const user = await createUser()
      const first = await loginOk(user)
      await env.DB.prepare('UPDATE sessions SET expires_at = 1 WHERE sub = ?').bind(user.sub).run()
      const live: TokenResponse[] = []
      for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) live.push(await loginOk(user))
      const revoked = await env.DB.prepare(
        `SELECT COUNT(*) AS n FROM sessions WHERE sub = ? AND revoked_why = 'session_cap'`,
      )
        .bind(user.sub)
        .first<{ n: number }>()
      expect(revoked!.n).toBe(0)
      expect(sidOf(first)).not.toBe(sidOf(live[0]!))
    },
  )
})
