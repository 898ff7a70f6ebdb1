import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { pruneAccounts } from '../../../edge/accounts/prune.ts'
import { issueMailToken } from '../../../edge/accounts/mail-tokens.ts'
import {
  MAIL_WINDOW_SECONDS,
  OUTBOX_MAX_ROWS,
  OUTBOX_RETENTION_SECONDS,
  RESET_TOKEN_TTL_SECONDS,
} from '../../../edge/constants.ts'
import { createUser } from '../support.ts'

const NOW = 2_000_000_000

async function count(table: string, where = '1 = 1', ...binds: unknown[]): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...binds)
    .first<{ n: number }>()
  return row?.n ?? 0
}

describe('pruneAccounts (the cron)', () => {
  it('keeps at most one mail token per user and kind, and deletes expired ones', async () => {
    const { sub } = await createUser()
    for (let i = 0; i < 5; i++) await issueMailToken(env.DB, sub, 'reset', NOW)
    await issueMailToken(env.DB, sub, 'verify', NOW, 'a@example.test')
    expect(await count('mail_tokens', 'sub = ?', sub)).toBe(2)
    await pruneAccounts(env.DB, NOW + RESET_TOKEN_TTL_SECONDS)
    expect(await count('mail_tokens', 'sub = ? AND kind = ?', sub, 'reset')).toBe(0)
    expect(await count('mail_tokens', 'sub = ? AND kind = ?', sub, 'verify')).toBe(1)
  })

  it('deletes used and expired invites, keeps live ones', async () => {
    const ins = env.DB.prepare(
      'INSERT INTO invites (invite_hash, created_at, expires_at, used_at) VALUES (?, ?, ?, ?)',
    )
    const id = crypto.randomUUID()
    await env.DB.batch([
      ins.bind(`${id}-live`, NOW, NOW + 60, null),
      ins.bind(`${id}-used`, NOW, NOW + 60, NOW),
      ins.bind(`${id}-old`, NOW - 120, NOW - 60, null),
    ])
    await pruneAccounts(env.DB, NOW)
    const { results } = await env.DB.prepare(
      'SELECT invite_hash FROM invites WHERE invite_hash LIKE ?',
    )
      .bind(`${id}-%`)
      .all<{ invite_hash: string }>()
    expect(results.map((r) => r.invite_hash)).toEqual([`${id}-live`])
  })

  it('deletes mail-log rows past the hourly window', async () => {
    const key = `${crypto.randomUUID()}@example.test`
    const ins = env.DB.prepare('INSERT INTO mail_log (sub, email_key, at) VALUES (?, ?, ?)')
    await env.DB.batch([ins.bind('s', key, NOW - MAIL_WINDOW_SECONDS - 1), ins.bind('s', key, NOW)])
    await pruneAccounts(env.DB, NOW)
    expect(await count('mail_log', 'email_key = ?', key)).toBe(1)
  })

  it(`keeps the outbox to ${OUTBOX_MAX_ROWS} rows and ${OUTBOX_RETENTION_SECONDS} s`, async () => {
    await env.DB.prepare('DELETE FROM outbox').run()
    const ins = env.DB.prepare(
      `INSERT INTO outbox (id, to_addr, subject, text, kind, created_at) VALUES (?, 'a@b.test', 's', 't', 'notice', ?)`,
    )
    const rows = []
    for (let i = 0; i < OUTBOX_MAX_ROWS + 5; i++) rows.push(ins.bind(crypto.randomUUID(), NOW - i))
    rows.push(ins.bind('ancient', NOW - OUTBOX_RETENTION_SECONDS - 10))
    await env.DB.batch(rows)
    await pruneAccounts(env.DB, NOW)
    expect(await count('outbox')).toBe(OUTBOX_MAX_ROWS)
    expect(await count('outbox', 'id = ?', 'ancient')).toBe(0)
    expect(await count('outbox', 'created_at = ?', NOW)).toBe(1)
  })

  it('deletes at most one batch per table per run', async () => {
    await env.DB.prepare('DELETE FROM mail_log').run()
    const ins = env.DB.prepare('INSERT INTO mail_log (sub, email_key, at) VALUES (?, ?, ?)')
    await env.DB.batch(Array.from({ length: 7 }, () => ins.bind('s', 'k', 1)))
    expect((await pruneAccounts(env.DB, NOW, 3)).mailLog).toBe(3)
    expect(await count('mail_log')).toBe(4)
  })
})
