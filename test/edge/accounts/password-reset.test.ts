import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { app } from '../../../edge/app.ts'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { RESET_TOKEN_TTL_SECONDS } from '../../../edge/constants.ts'
import { expectError, freshAddress, sidOf, uniqueName } from '../support.ts'
import { accountsEdge, strongPassword, uniqueEmail } from './support.ts'

const edge = accountsEdge({ SIGNUP: 'open', MAILER: 'outbox' })

afterEach(() => {
  vi.useRealTimers()
})

/** Sign up with an email, verify it, and return the account with two live sessions. */
async function verifiedAccount() {
  const username = uniqueName()
  const password = strongPassword()
  const email = uniqueEmail()
  const first = await edge.signupOk({ username, password, email })
  const verified = await edge.post('/auth/email/verify', {
    token: await edge.mailToken(email, 'verify'),
  })
  expect(verified.status).toBe(200)
  const second = (await verified.json()) as TokenResponse
  return { username, password, email, sessions: [first, second] }
}

async function sub(username: string) {
  const row = await env.DB.prepare('SELECT sub FROM users WHERE username = ?')
    .bind(username)
    .first<{ sub: string }>()
  return row!.sub
}

describe('password reset through the outbox', () => {
  it('mails a link once, the token works once, every session ends with session and user events', async () => {
    const account = await verifiedAccount()
    const forgot = await edge.post('/auth/password/forgot', { username: account.username })
    expect(forgot.status).toBe(202)
    const mail = (await edge.outbox()).find((m) => m.to === account.email && m.kind === 'reset')
    expect(mail).toMatchObject({ subject: 'Reset your password' })
    expect(mail!.text).not.toContain(account.password)
    const token = await edge.mailToken(account.email, 'reset')
    const stored = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM mail_tokens WHERE token_hash = ?',
    )
      .bind(token)
      .first<{ n: number }>()
    expect(stored?.n).toBe(0)

    const newPassword = strongPassword()
    const cursor = ((
      await env.DB.prepare('SELECT MAX(cursor) AS c FROM revocations').first<{
        c: number
      }>()
    )?.c ?? 0) as number
    const reset = await edge.post('/auth/password/reset', { token, password: newPassword })
    expect(reset.status).toBe(204)

    const { results: events } = await env.DB.prepare(
      'SELECT kind, id FROM revocations WHERE cursor > ? ORDER BY cursor',
    )
      .bind(cursor)
      .all<{ kind: string; id: string }>()
    const userSub = await sub(account.username)
    expect(events).toEqual(
      expect.arrayContaining([
        { kind: 'session', id: sidOf(account.sessions[0]!) },
        { kind: 'session', id: sidOf(account.sessions[1]!) },
        { kind: 'user', id: userSub },
      ]),
    )
    for (const old of account.sessions)
      await expectError(
        await edge.post('/auth/refresh', { refresh_token: old.refresh_token }),
        401,
        'invalid_grant',
      )
    await expectError(
      await edge.post('/auth/password/reset', { token, password: strongPassword() }),
      401,
      'invalid_grant',
      [token],
    )
    await expectError(
      await edge.post('/auth/login', { username: account.username, password: account.password }),
      401,
      'invalid_credentials',
    )
    expect(
      (await edge.post('/auth/login', { username: account.username, password: newPassword }))
        .status,
    ).toBe(200)
  })

  it('refuses a token past its 30 minutes (driven clock), and a weak password keeps the token usable', async () => {
    const account = await verifiedAccount()
    const t0 = Date.now()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(t0)
    await edge.post('/auth/password/forgot', { email: account.email.toUpperCase() })
    const token = await edge.mailToken(account.email, 'reset')
    await expectError(
      await edge.post('/auth/password/reset', { token, password: 'password' }),
      400,
      'weak_password',
    )
    vi.setSystemTime(t0 + RESET_TOKEN_TTL_SECONDS * 1000 - 2000)
    const live = await env.DB.prepare(
      'SELECT COUNT(*) AS n FROM mail_tokens WHERE kind = ? AND used_at IS NULL AND expires_at > ?',
    )
      .bind('reset', Math.floor(Date.now() / 1000))
      .first<{ n: number }>()
    expect(live!.n).toBeGreaterThan(0)
    vi.setSystemTime(t0 + RESET_TOKEN_TTL_SECONDS * 1000 + 1000)
    await expectError(
      await edge.post('/auth/password/reset', { token, password: strongPassword() }),
      401,
      'invalid_grant',
    )
  })

  it('a new reset mail voids the previous link', async () => {
    const account = await verifiedAccount()
    await edge.post('/auth/password/forgot', { username: account.username })
    const first = await edge.mailToken(account.email, 'reset')
    await edge.post('/auth/password/forgot', { username: account.username })
    const second = await edge.mailToken(account.email, 'reset')
    expect(second).not.toBe(first)
    await expectError(
      await edge.post('/auth/password/reset', { token: first, password: strongPassword() }),
      401,
      'invalid_grant',
    )
    expect(
      (await edge.post('/auth/password/reset', { token: second, password: strongPassword() }))
        .status,
    ).toBe(204)
  })

  it('mails nobody for an account whose email is not verified', async () => {
    const username = uniqueName()
    const email = uniqueEmail()
    await edge.signupOk({ username, password: strongPassword(), email })
    expect((await edge.post('/auth/password/forgot', { username })).status).toBe(202)
    expect((await edge.outbox()).filter((m) => m.to === email).map((m) => m.kind)).toEqual([
      'verify',
    ])
  })
})

describe('POST /auth/password/forgot: no enumeration', () => {
  it('answers an existing and an unknown account with the same status, headers and body, in the same time band', async () => {
    const account = await verifiedAccount()
    const known: { status: number; body: string; ms: number; cache: string | null }[] = []
    const unknown: typeof known = []
    for (let i = 0; i < 8; i++) {
      for (const [list, username] of [
        [known, account.username],
        [unknown, uniqueName('nobody')],
      ] as const) {
        const started = performance.now()
        // Timed to the answer, as a client sees it; the mail work after it is awaited untimed.
        const { res, settled } = await answerOnly('/auth/password/forgot', { username })
        const ms = performance.now() - started
        await settled
        list.push({
          status: res.status,
          body: await res.text(),
          ms,
          cache: res.headers.get('cache-control'),
        })
      }
    }
    const shape = (r: (typeof known)[number]) => ({
      status: r.status,
      body: r.body,
      cache: r.cache,
    })
    expect(new Set([...known, ...unknown].map((r) => JSON.stringify(shape(r)))).size).toBe(1)
    expect(shape(known[0]!)).toEqual({
      status: 202,
      body: '{"status":"accepted"}',
      cache: 'no-store',
    })
    // At least 1 ms: workerd advances its clock only across I/O.
    const median = (list: typeof known) =>
      Math.max(1, list.map((r) => r.ms).sort((a, b) => a - b)[4]!)
    // The distribution is measured, not asserted tight: only the order of magnitude must agree.
    console.log('forgot ms (known, unknown):', median(known), median(unknown))
    expect(median(known) / median(unknown)).toBeLessThan(10)
    expect(median(unknown) / median(known)).toBeLessThan(10)
  })

  it.each([
    [{}, 'empty'],
    [{ username: 'a', email: 'a@b.c' }, 'both'],
    [{ email: 'not-an-email' }, 'bad email'],
    [{ username: '' }, 'empty username'],
  ])('%j is 400 invalid_request (%s)', async (body, _what) => {
    await expectError(await edge.post('/auth/password/forgot', body), 400, 'invalid_request')
  })

  it('limits one account to 10 requests an hour, whoever asks: the 11th is 429', async () => {
    const username = uniqueName('flood')
    const statuses: number[] = []
    for (let i = 0; i < 11; i++)
      statuses.push((await edge.post('/auth/password/forgot', { username })).status)
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(202))
    expect(statuses[10]).toBe(429)
  })
})

/** The configured app's answer, and a promise of its background work (the mail) settling. */
async function answerOnly(path: string, body: unknown) {
  const ctx = createExecutionContext()
  const req = new Request(`http://edge.test${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': freshAddress() },
    body: JSON.stringify(body),
  })
  const res = await app.fetch(req, edge.env, ctx)
  return { res, settled: waitOnExecutionContext(ctx) }
}
