import type { RevocationEvent, RevocationKind } from '../../shared/claims.ts'
import {
  PRUNE_BATCH_ROWS,
  REVOCATION_FEED_PAGE_SIZE,
  REVOCATION_RETENTION_SECONDS,
} from '../constants.ts'

/**
 * A statement that appends a revocation event, for use inside a `db.batch`
 * with the state change it records (so the two commit together).
 *
 * @param db - the D1 binding
 * @param event - what is revoked, when, and until when it matters
 */
export function revocationStatement(
  db: D1Database,
  event: { kind: RevocationKind; id: string; at: number; until: number },
): D1PreparedStatement {
  return db
    .prepare('INSERT INTO revocations (kind, id, at, until) VALUES (?, ?, ?, ?)')
    .bind(event.kind, event.id, event.at, event.until)
}

/** A page of the feed. */
export interface RevocationPage {
  events: RevocationEvent[]
  next: number
}

/**
 * Events after `after` that are still in force at `now`, oldest first.
 *
 * The high-water mark is read first and the page is bounded by it, so an
 * event committed while this runs has a larger cursor and is picked up by
 * the next poll: `next` never skips an event that can still matter.
 *
 * @param db - the D1 binding
 * @param after - the caller's last cursor
 * @param now - Unix seconds
 */
export async function listRevocations(
  db: D1Database,
  after: number,
  now: number,
): Promise<RevocationPage> {
  const top = await db
    .prepare('SELECT COALESCE(MAX(cursor), 0) AS top FROM revocations')
    .first<{ top: number }>()
  const high = top?.top ?? 0
  if (high <= after) return { events: [], next: Math.max(after, high) }
  const { results } = await db
    .prepare(
      `SELECT cursor, kind, id, at, until FROM revocations
       WHERE cursor > ? AND cursor <= ? AND until > ? ORDER BY cursor LIMIT ?`,
    )
    .bind(after, high, now, REVOCATION_FEED_PAGE_SIZE)
    .all<RevocationEvent>()
  const full = results.length === REVOCATION_FEED_PAGE_SIZE
  return { events: results, next: full ? results[results.length - 1]!.cursor : high }
}

/**
 * Delete events long past their `until` (kept for a retention period for
 * audit), at most `batch` per call. The feed stays monotonic: `cursor` is
 * AUTOINCREMENT, so a new event never reuses a pruned event's cursor, and a
 * poller whose cursor is past every remaining row keeps it (see
 * {@link listRevocations}).
 *
 * @param db - the D1 binding
 * @param now - Unix seconds
 * @param batch - most rows deleted. @default PRUNE_BATCH_ROWS
 */
export async function pruneRevocations(
  db: D1Database,
  now: number,
  batch = PRUNE_BATCH_ROWS,
): Promise<number> {
  const result = await db
    .prepare(
      'DELETE FROM revocations WHERE cursor IN (SELECT cursor FROM revocations WHERE until < ? LIMIT ?)',
    )
    .bind(now - REVOCATION_RETENTION_SECONDS, batch)
    .run()
  return result.meta.changes
}
