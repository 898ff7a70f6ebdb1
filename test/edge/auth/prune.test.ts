import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { MAX_ACCESS_TOKEN_TTL_SECONDS } from '../../../shared/constants.ts'
import { pruneSessions } from '../../../edge/auth/prune.ts'
import { revocationUntil } from '../../../edge/auth/sessions.ts'
import {
  PRUNE_BATCH_ROWS,
  REFRESH_LIMIT_PER_SESSION,
  REFRESH_THROTTLE_WINDOW_SECONDS,
  REVOCATION_RETENTION_SECONDS,
} from '../../../edge/constants.ts'
import { revocationStatement } from '../../../edge/revocations/log.ts'
import { runScheduledMaintenance } from '../../../edge/scheduled.ts'
import {
  createUser,
  expectError,
  feed,
  loginOk,
  postJson,
  refresh,
  sidOf,
  type TestUser,
} from '../support.ts'

/** Seconds after a session ends during which its rows are kept. */
const KEEP = revocationUntil(0, MAX_ACCESS_TOKEN_TTL_SECONDS)

afterEach(() => {
  vi.useRealTimers()
})

async function count(
  table: 'sessions' | 'refresh_tokens' | 'revocations',
  where = '1',
  ...binds: unknown[]
) {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...binds)
    .first<{ n: number }>()
  return row!.n
}

async function tableSizes() {
  return {
    sessions: await count('sessions'),
    refresh_tokens: await count('refresh_tokens'),
    revocations: await count('revocations'),
  }
}

/** Refresh `n` times, driving the clock past the per-session window as a long-lived client would. */
async function chain(tokens: TokenResponse, n: number, clock: { ms: number }) {
  vi.useFakeTimers({ toFake: ['Date'] })
  const spent: string[] = []
  let current = tokens.refresh_token
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % REFRESH_LIMIT_PER_SESSION === 0)
      clock.ms += REFRESH_THROTTLE_WINDOW_SECONDS * 1000
    vi.setSystemTime(clock.ms)
    const res = await refresh(current)
    expect(res.status).toBe(200)
    spent.push(current)
    current = ((await res.json()) as TokenResponse).refresh_token
  }
  return { spent, current }
}

function logout(refreshToken: string) {
  return postJson('/auth/logout', { refresh_token: refreshToken })
}

let alice: TestUser

beforeAll(async () => {
  alice = await createUser()
})

describe('the cron prunes sessions and refresh tokens', () => {
  it('deletes exactly the rows of sessions that ended long enough ago, keeping every spent token of a live session', async () => {
    const now = Math.floor(Date.now() / 1000)
    const live = await loginOk(alice)
    const loggedOut = await loginOk(alice)
    const expired = await loginOk(alice)
    const liveSpent = [live.refresh_token]
    for (let i = 0; i < 3; i++) {
      const res = await refresh(liveSpent[liveSpent.length - 1]!)
      liveSpent.push(((await res.json()) as TokenResponse).refresh_token)
    }
    expect((await logout(loggedOut.refresh_token)).status).toBe(204)
    await env.DB.prepare('UPDATE sessions SET expires_at = ? WHERE sid = ?')
      .bind(now - 1, sidOf(expired))
      .run()

    // Just before the margin has passed: nothing goes.
    await runScheduledMaintenance(env, { now: now + KEEP - 5 })
    for (const s of [live, loggedOut, expired])
      expect(await count('sessions', 'sid = ?', sidOf(s))).toBe(1)
    expect(await count('refresh_tokens', 'sid = ?', sidOf(loggedOut))).toBe(1)

    await runScheduledMaintenance(env, { now: now + KEEP + 5 })
    expect(await count('sessions', 'sid = ?', sidOf(loggedOut))).toBe(0)
    expect(await count('sessions', 'sid = ?', sidOf(expired))).toBe(0)
    expect(await count('refresh_tokens', 'sid IN (?, ?)', sidOf(loggedOut), sidOf(expired))).toBe(0)
    expect(await count('sessions', 'sid = ?', sidOf(live))).toBe(1)
    expect(await count('refresh_tokens', 'sid = ?', sidOf(live))).toBe(4)

    // A spent token of the live session is still reuse: 401 and the session is revoked.
    await expectError(await refresh(liveSpent[1]!), 401, 'invalid_grant')
    const why = await env.DB.prepare('SELECT revoked_why FROM sessions WHERE sid = ?')
      .bind(sidOf(live))
      .first<{ revoked_why: string }>()
    expect(why?.revoked_why).toBe('reuse')
    await expectError(await refresh(liveSpent[3]!), 401, 'invalid_grant')
  })

  it('keeps a live session with months of refresh history until its absolute expiry', async () => {
    const now = Math.floor(Date.now() / 1000)
    const tokens = await loginOk(alice)
    const sid = sidOf(tokens)
    await env.DB.prepare('UPDATE refresh_tokens SET spent_at = ?, created_at = ? WHERE sid = ?')
      .bind(now - 90 * 86400, now - 90 * 86400, sid)
      .run()
    const row = await env.DB.prepare('SELECT expires_at FROM sessions WHERE sid = ?')
      .bind(sid)
      .first<{ expires_at: number }>()
    await runScheduledMaintenance(env, { now: row!.expires_at - 1 })
    expect(await count('refresh_tokens', 'sid = ?', sid)).toBe(1)
    await runScheduledMaintenance(env, { now: row!.expires_at + KEEP + 1 })
    expect(await count('refresh_tokens', 'sid = ?', sid)).toBe(0)
    expect(await count('sessions', 'sid = ?', sid)).toBe(0)
  })

  it('deletes at most the batch size per table per run', async () => {
    const tokens = await loginOk(alice)
    const { current } = await chain(tokens, 4, { ms: Date.now() })
    vi.useRealTimers()
    expect((await logout(current)).status).toBe(204)
    const sid = sidOf(tokens)
    const later = Math.floor(Date.now() / 1000) + 3 * KEEP
    expect(await pruneSessions(env.DB, later, 2)).toEqual({ refreshTokens: 2, sessions: 0 })
    expect(await count('refresh_tokens', 'sid = ?', sid)).toBe(3)
    expect(await pruneSessions(env.DB, later, 2)).toEqual({ refreshTokens: 2, sessions: 0 })
    expect(await pruneSessions(env.DB, later, 2)).toMatchObject({ refreshTokens: 1, sessions: 1 })
    expect(await count('sessions', 'sid = ?', sid)).toBe(0)
    expect(PRUNE_BATCH_ROWS).toBeGreaterThan(0)
  })
})

describe('the cron prunes revocation events', () => {
  it('keeps the feed cursor monotonic when every event has been pruned', async () => {
    const now = Math.floor(Date.now() / 1000) + 10 * KEEP
    const before = await feed(0)
    await revocationStatement(env.DB, { kind: 'session', id: 'old-1', at: 1, until: 2 }).run()
    await revocationStatement(env.DB, { kind: 'session', id: 'old-2', at: 1, until: 2 }).run()
    const top = (await feed(before.next)).next
    await runScheduledMaintenance(env, { now: now + REVOCATION_RETENTION_SECONDS })
    expect(await count('revocations', 'id LIKE ?', 'old-%')).toBe(0)
    // A poller that had seen them keeps its cursor, and the next event comes after it.
    expect((await feed(top)).next).toBeGreaterThanOrEqual(top)
    await revocationStatement(env.DB, {
      kind: 'session',
      id: 'new',
      at: now,
      until: now + 600,
    }).run()
    const page = await feed(top)
    expect(page.events.map((e) => e.id)).toEqual(['new'])
    expect(page.events[0]!.cursor).toBeGreaterThan(top)
  })
})

describe('a soak: 300 refresh cycles, then a cron run', () => {
  it(
    'leaves only the live sessions and what their reuse detection needs',
    { timeout: 300_000 },
    async () => {
      const clock = { ms: Date.now() }
      vi.useFakeTimers({ toFake: ['Date'] })
      vi.setSystemTime(clock.ms)
      const initial = await tableSizes()
      // Three sessions of 100 refreshes each; two are logged out, one stays.
      const sessions = [await loginOk(alice), await loginOk(alice), await loginOk(alice)]
      const chains = []
      for (const s of sessions) chains.push(await chain(s, 100, clock))
      expect((await logout(chains[0]!.current)).status).toBe(204)
      expect((await logout(chains[1]!.current)).status).toBe(204)
      const afterSoak = await tableSizes()
      await runScheduledMaintenance(env, { now: Math.floor(clock.ms / 1000) + KEEP + 1 })
      const afterCron = await tableSizes()
      console.log(
        JSON.stringify({
          soak: '300 refresh cycles over 3 sessions, 2 logged out',
          initial,
          afterSoak,
          afterCron,
        }),
      )
      expect(afterSoak.refresh_tokens - initial.refresh_tokens).toBe(303)
      expect(afterCron.refresh_tokens - initial.refresh_tokens).toBe(101)
      expect(afterCron.sessions - initial.sessions).toBe(1)
      expect(afterSoak.revocations - initial.revocations).toBe(2)
      // The survivor's oldest spent token is still recognised as reuse.
      vi.setSystemTime((clock.ms += REFRESH_THROTTLE_WINDOW_SECONDS * 1000))
      await expectError(await refresh(chains[2]!.spent[0]!), 401, 'invalid_grant')
      expect(
        await count('sessions', `sid = ? AND revoked_why = 'reuse'`, sidOf(sessions[2]!)),
      ).toBe(1)
    },
  )
})
