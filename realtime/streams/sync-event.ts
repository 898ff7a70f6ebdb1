import * as v from 'valibot'
import { defineEvent } from '../messages/registry.ts'
import type { PublishStore } from './types.ts'

/**
 * An offset as a client sends it back: opaque, but the shape both stores
 * produce (`<tag>-<seq>` in memory, `<ms>-<seq>` in Redis), bounded.
 */
const OffsetSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'since: an offset or null'),
)

/** `data` of `rt:sync` (docs/protocol.md §9). */
export const SyncRequestSchema = v.strictObject({ since: v.nullable(OffsetSchema) })

/**
 * `rt:sync` (docs/protocol.md §9): emit every entry of the caller's stream
 * after `since`, in order and as it was delivered live (same event, same
 * `{ id, ts, data, offset }`), then ack `{ delivered, last, gap }`. The
 * stream holds at most `USER_STREAM_MAX` entries, which bounds one sync.
 *
 * @param store - where the user streams are
 */
export function createSyncEvent(store: Pick<PublishStore, 'read'>) {
  return defineEvent({
    schema: SyncRequestSchema,
    handler: async ({ data, auth, socket }) => {
      const { entries, last, gap } = await store.read(auth.sub, data.since)
      // Socket.IO writes a socket's packets in order: these reach the client before the ack.
      for (const { event, id, ts, data: payload, offset } of entries)
        socket.emit(event, { id, ts, data: payload, offset })
      return { delivered: entries.length, last, gap }
    },
  })
}
