import { AppError } from '../../shared/errors.ts'
import { FEDERATED_LINKS_PER_USER_MAX } from '../constants.ts'

/** A stored link: the local user an upstream account is (docs/protocol.md §14). */
export interface LinkRow {
  provider: string
  upstream_sub: string
  sub: string
  created_at: number
  last_used_at: number | null
}

/**
 * The local user linked to (provider, upstream sub), if any. Never looked up by email.
 *
 * @param db - the D1 binding
 * @param provider - the provider's id
 * @param upstreamSub - the ID token's `sub`
 * @example
 * ```ts
 * const link = await findLink(env.DB, 'corp', idToken.sub) // undefined: no local user yet
 * ```
 */
export async function findLink(
  db: D1Database,
  provider: string,
  upstreamSub: string,
): Promise<LinkRow | undefined> {
  const row = await db
    .prepare('SELECT * FROM federated_links WHERE provider = ? AND upstream_sub = ?')
    .bind(provider, upstreamSub)
    .first<LinkRow>()
  return row ?? undefined
}

/**
 * Link an upstream account to `sub`, within {@link FEDERATED_LINKS_PER_USER_MAX}:
 * the cap is checked in the same statement as the insert, so two links
 * racing cannot pass it together. Linking again what is already this user's
 * is a success.
 *
 * @throws AppError `conflict` when the upstream account is another user's, or the user has as many links as allowed
 * @example
 * ```ts
 * await insertLink(env.DB, { provider: 'corp', upstreamSub: idToken.sub, sub: user.sub }, now)
 * ```
 */
export async function insertLink(
  db: D1Database,
  link: { provider: string; upstreamSub: string; sub: string },
  now: number,
): Promise<void> {
  const result = await db
    .prepare(
      `INSERT INTO federated_links (provider, upstream_sub, sub, created_at)
       SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM federated_links WHERE sub = ?3) < ?5
       ON CONFLICT DO NOTHING`,
    )
    .bind(link.provider, link.upstreamSub, link.sub, now, FEDERATED_LINKS_PER_USER_MAX)
    .run()
  if (result.meta.changes > 0) return
  const existing = await findLink(db, link.provider, link.upstreamSub)
  if (existing?.sub === link.sub) return
  if (existing) throw new AppError('conflict', 'upstream account already linked to another user')
  throw new AppError('conflict', `at most ${FEDERATED_LINKS_PER_USER_MAX} federated links per user`)
}

/**
 * Whether `sub` may add another link.
 *
 * @param db - the D1 binding
 * @param sub - the user
 */
export async function hasRoomForLink(db: D1Database, sub: string): Promise<boolean> {
  const row = await db
    .prepare('SELECT COUNT(*) AS n FROM federated_links WHERE sub = ?')
    .bind(sub)
    .first<{ n: number }>()
  return (row?.n ?? 0) < FEDERATED_LINKS_PER_USER_MAX
}

/** Record a login through a link. */
export function touchLinkStatement(
  db: D1Database,
  provider: string,
  upstreamSub: string,
  now: number,
): D1PreparedStatement {
  return db
    .prepare('UPDATE federated_links SET last_used_at = ? WHERE provider = ? AND upstream_sub = ?')
    .bind(now, provider, upstreamSub)
}

/**
 * Mark a flow's callback as run; a second callback of the same flow (a
 * replayed redirect, with the same cookie and code) finds it already marked.
 *
 * @returns whether this was the first callback of the flow
 * @example
 * ```ts
 * if (!(await spendFlow(env.DB, flow.state, flow.exp))) throw new AppError('invalid_grant', 'replayed')
 * ```
 */
export async function spendFlow(
  db: D1Database,
  state: string,
  expiresAt: number,
): Promise<boolean> {
  const result = await db
    .prepare(
      'INSERT INTO federated_flows_used (flow_id, expires_at) VALUES (?, ?) ON CONFLICT DO NOTHING',
    )
    .bind(state, expiresAt)
    .run()
  return result.meta.changes > 0
}
