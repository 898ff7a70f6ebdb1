import { ENVELOPE_ID_PATTERN } from '../../shared/envelope.ts'
import * as v from 'valibot'
import { SYNC_BURST_BYTES, SYNC_WAIT_POLL_MS } from '../constants.ts'
import { emitPublished } from '../api/publish.ts'
import { defineEvent, type EventContext } from '../messages/registry.ts'
import type { PublishStore } from './types.ts'

/**
 * An offset as a client sends it back: opaque, but the shape both stores
 * produce (`<tag>-<seq>` in memory, `<ms>-<seq>` in Redis), bounded.
 */
const OffsetSchema = v.pipe(
  v.string(),
  // Offsets use the envelope-id alphabet and length, so one bound serves both.
  v.regex(ENVELOPE_ID_PATTERN, 'since: an offset or null'),
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
      // Socket.IO writes a socket's packets in order: these reach the client
      // before the ack. A full stream of large entries is more than a
      // connection may have queued (the slow-consumer bound), so they go out
      // in bursts, each once the one before has been written.
      let burst = 0
      for (const { event, id, ts, data: payload, offset } of entries) {
        const size = JSON.stringify(payload).length
        if (burst > 0 && burst + size > SYNC_BURST_BYTES) {
          if (!(await written(socket))) break
          burst = 0
        }
        emitPublished(socket, event, { id, ts, data: payload, offset })
        burst += size
      }
      return { delivered: entries.length, last, gap }
    },
  })
}

/**
 * Resolve once what was emitted to `socket` has left the node's buffers for
 * the network (nothing in the connection's write buffer, at most a burst in
 * the websocket's): true, or false when the connection closed first. It
 * looks again on each `drain` of the connection or its transport, and at
 * least every {@link SYNC_WAIT_POLL_MS}, since a buffer handed over whole
 * raises no further event.
 */
async function written(socket: EventContext<unknown>['socket']): Promise<boolean> {
  const conn = socket.conn
  for (;;) {
    if (conn.readyState !== 'open') return false
    const ws = (conn.transport as unknown as { socket?: { bufferedAmount?: number } }).socket
    // engine.io keeps the write buffer private in its types; it is a plain array.
    const buffered = (conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length
    if (buffered === 0 && (ws?.bufferedAmount ?? 0) <= SYNC_BURST_BYTES) return true
    await new Promise<void>((resolve) => {
      const transport = conn.transport
      const done = () => {
        clearTimeout(timer)
        conn.off('drain', done)
        conn.off('close', done)
        transport.off('drain', done)
        resolve()
      }
      const timer = setTimeout(done, SYNC_WAIT_POLL_MS)
      conn.once('drain', done)
      conn.once('close', done)
      transport.once('drain', done)
    })
  }
}
