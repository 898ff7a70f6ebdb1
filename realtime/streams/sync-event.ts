import { ENVELOPE_ID_PATTERN } from '../../shared/envelope.ts'
import * as v from 'valibot'
import {
  SYNC_BURST_BYTES,
  SYNC_REPLAY_BUDGET_BYTES,
  SYNC_REPLAY_WINDOW_MS,
  SYNC_WAIT_POLL_MS,
} from '../constants.ts'
import { emitPublished } from '../api/publish.ts'
import { rateLimited } from '../errors.ts'
import { defineEvent, type EventContext } from '../messages/registry.ts'
import { memoryReplayBudget, type ReplayBudget } from './replay-budget.ts'
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

/** Options of {@link createSyncEvent}: the per-user replay budget (docs/protocol.md §9, v1.2). */
export interface SyncReplayOptions {
  /** The budget, shared by every node of a cluster (see `createReplayBudget`). @default one in memory, from the next three */
  budget?: ReplayBudget
  /** Bytes of entries one user's syncs may replay per window. @default 1 MiB */
  maxBytes?: number
  /** The window, ms. @default 10_000 */
  windowMs?: number
  /** ms clock. @default Date.now */
  now?: () => number
  /** Called with the bytes each sync replayed, for the metric. */
  onReplayed?: (bytes: number) => void
  /** Called when a sync is refused over the budget, for the metric. */
  onRefused?: () => void
}

/**
 * `rt:sync` (docs/protocol.md §9): emit every entry of the caller's stream
 * after `since`, in order and as it was delivered live (same event, same
 * `{ id, from, ts, data, offset }`), then ack `{ delivered, last, gap }`. The
 * stream holds at most `USER_STREAM_MAX` entries, which bounds one sync;
 * a user's syncs share a replay budget (across the cluster when it is
 * in Redis), past which `rt:sync` is
 * `rate_limited` with `retryAfterMs` before the store is read. A sync is
 * charged what it replayed once it is read, so the one that crosses the
 * budget completes and the next waits until the debt is repaid.
 *
 * @param store - where the user streams are
 * @param replay - {@link SyncReplayOptions}
 */
export function createSyncEvent(store: Pick<PublishStore, 'read'>, replay: SyncReplayOptions = {}) {
  const budget =
    replay.budget ??
    memoryReplayBudget(
      {
        maxBytes: replay.maxBytes ?? SYNC_REPLAY_BUDGET_BYTES,
        windowMs: replay.windowMs ?? SYNC_REPLAY_WINDOW_MS,
      },
      replay.now ?? Date.now,
    )
  return defineEvent({
    schema: SyncRequestSchema,
    handler: async ({ data, auth, socket }) => {
      const wait = await budget.wait(auth.sub)
      if (wait > 0) {
        replay.onRefused?.()
        throw rateLimited('sync replay budget', wait)
      }
      const { entries, last, gap } = await store.read(auth.sub, data.since)
      const sizes = entries.map((entry) => Buffer.byteLength(JSON.stringify(entry.data) ?? ''))
      const replayed = sizes.reduce((sum, size) => sum + size, 0)
      await budget.spend(auth.sub, replayed)
      replay.onReplayed?.(replayed)
      // Socket.IO writes a socket's packets in order: these reach the client
      // before the ack. A full stream of large entries is more than a
      // connection may have queued (the slow-consumer bound), so they go out
      // in bursts, each once the one before has been written.
      let burst = 0
      for (const [i, { event, id, from, ts, data: payload, offset }] of entries.entries()) {
        const size = sizes[i]!
        if (burst > 0 && burst + size > SYNC_BURST_BYTES) {
          if (!(await written(socket))) break
          burst = 0
        }
        emitPublished(socket, event, { id, from, ts, data: payload, offset })
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
