import * as v from 'valibot'
import { AppError } from '../../shared/errors.ts'
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX } from '../constants.ts'
import type { EventLog, EventPage } from './types.ts'

/** `?after=` (an offset, at most 64 characters) and `?limit=` (1–1000). */
const EventsQuerySchema = v.object({
  after: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(64))),
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^[1-9]\d{0,3}$/), v.transform(Number), v.maxValue(EVENTS_PAGE_MAX)),
  ),
})

/**
 * `GET /api/v1/events?after=&limit=` (docs/protocol.md §16), after the
 * route's auth, `events:read` scope and rate: a page of the log.
 *
 * @param log - the event log
 * @returns the route's reader: query → `{ events, next, gap }`
 * @throws AppError `envelope_invalid` (limit, after), `unavailable` (Redis away)
 * @example
 * ```ts
 * const events = pullEvents(log)
 * await events({ after: page.next, limit: '500' })
 * ```
 */
export function pullEvents(
  log: Pick<EventLog, 'read'>,
): (query: Record<string, string | undefined>) => Promise<EventPage> {
  return async (query) => {
    const parsed = v.safeParse(EventsQuerySchema, { after: query.after, limit: query.limit })
    if (!parsed.success) throw new AppError('envelope_invalid', 'limit (1-1000) or after')
    return log.read(parsed.output.after, parsed.output.limit ?? EVENTS_PAGE_DEFAULT)
  }
}
