import type { Context } from 'hono'
import { createMiddleware } from 'hono/factory'
import { AppError } from '../../shared/errors.ts'
import { OUTBOX_LIST_MAX } from '../constants.ts'
import type { AppEnv } from '../types.ts'
import type { Mail, MailKind, MailTransport } from './types.ts'

/** One mail as `GET /dev/outbox` lists it (docs/protocol.md §13). */
export interface OutboxMessage {
  id: string
  to: string
  subject: string
  text: string
  kind: MailKind
  createdAt: number
}

/**
 * `MAILER=outbox` (local only): mail is kept in D1 and listed at
 * `GET /dev/outbox`; the cron keeps it bounded (edge/accounts/prune.ts).
 *
 * @param db - the D1 binding
 */
export function outboxTransport(db: D1Database): MailTransport {
  return {
    async send(mail: Mail, now: number) {
      await db
        .prepare(
          'INSERT INTO outbox (id, to_addr, subject, text, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .bind(crypto.randomUUID(), mail.to, mail.subject, mail.text, mail.kind, now)
        .run()
    },
  }
}

/** The newest mails first, at most {@link OUTBOX_LIST_MAX}. */
export async function listOutbox(db: D1Database): Promise<OutboxMessage[]> {
  const { results } = await db
    .prepare(
      `SELECT id, to_addr AS "to", subject, text, kind, created_at AS createdAt
       FROM outbox ORDER BY created_at DESC, rowid DESC LIMIT ?`,
    )
    .bind(OUTBOX_LIST_MAX)
    .all<OutboxMessage>()
  return results
}

/** `GET /dev/outbox` (admin token): `{ messages }`, newest first. */
export async function outboxList(c: Context<AppEnv>) {
  c.header('Cache-Control', 'no-store')
  return c.json({ messages: await listOutbox(c.env.DB) })
}

/**
 * `GET /dev/outbox/view`: the outbox as a page, without the admin token, so
 * the local demo can link to it. It exists only when `OUTBOX_VIEW=open`,
 * which the configuration accepts only for a loopback `ISSUER` (`npm start`).
 */
export async function outboxView(c: Context<AppEnv>) {
  const messages = await listOutbox(c.env.DB)
  const items = messages
    .map(
      (m) => `<article>
  <h2>${escapeHtml(m.subject)}</h2>
  <p class="meta">to ${escapeHtml(m.to)} · ${m.kind} · ${new Date(m.createdAt * 1000).toISOString()}</p>
  <pre>${linkify(escapeHtml(m.text))}</pre>
</article>`,
    )
    .join('\n')
  c.header('Cache-Control', 'no-store')
  c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
  c.header('Referrer-Policy', 'no-referrer')
  return c.html(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local outbox · edgegate</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f24; }
article { border: 1px solid #c9d1d9; border-radius: 8px; padding: 0 1rem; margin: 1rem 0; }
h2 { font-size: 1.1rem; }
.meta { color: #4b5563; font-size: 0.9rem; }
pre { white-space: pre-wrap; word-break: break-all; font: inherit; }
a { color: #0b57d0; }
</style>
</head>
<body>
<main>
<h1>Local outbox</h1>
<p>Mail the edge sent with <code>MAILER=outbox</code>, newest first. This page exists only on a local edge.</p>
${items || '<p>No mail yet.</p>'}
</main>
</body>
</html>`)
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!,
  )
}

/** Turn http(s) URLs in already-escaped text into links. */
function linkify(escaped: string): string {
  return escaped.replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`)
}

/** Middleware: the outbox routes exist only with `MAILER=outbox`; otherwise 404, as an unknown path. */
export const outboxOnly = createMiddleware<AppEnv>(async function outboxOnly(c, next) {
  if (c.get('config').accounts.mailer !== 'outbox') throw new AppError('not_found', 'no outbox')
  await next()
})

/** Middleware: `/dev/outbox/view` exists only with `OUTBOX_VIEW=open` (local, loopback `ISSUER`). */
export const outboxViewOnly = createMiddleware<AppEnv>(async function outboxViewOnly(c, next) {
  if (!c.get('config').accounts.outboxView) throw new AppError('not_found', 'no outbox view')
  await next()
})
