import type { Logger } from '../../log.ts'
import type { EventLog } from '../types.ts'
import type { WebhookEndpoint } from './endpoints.ts'
import type { DeliverySource } from './source.ts'

/**
 * A single node's {@link DeliverySource}: a cursor over the memory log,
 * starting at its end when the node starts. Events the log dropped before
 * the endpoint's queue read them (a dead endpoint for longer than the log's
 * bound) are logged as lost.
 *
 * @param log - the memory log
 * @param endpoint - the endpoint
 * @param logger - where a loss is reported
 */
export function memorySource(
  log: EventLog & { tail(): string },
  endpoint: WebhookEndpoint,
  logger: Logger,
): DeliverySource {
  let cursor = log.tail()
  let disabled = false
  const pending = new Map<string, number>()
  return {
    blocking: false,
    async read(count) {
      const page = await log.read(cursor, count)
      if (page.gap)
        logger('warn', 'webhook events dropped by the log before delivery', {
          endpoint: endpoint.id,
        })
      cursor = page.next
      for (const e of page.events) pending.set(e.offset, e.ts)
      return page.events
    },
    claim: async () => [],
    keep: async () => undefined,
    async ack(offsets) {
      for (const offset of offsets) pending.delete(offset)
    },
    disabled: async () => disabled,
    async disable() {
      disabled = true
    },
    async oldestUndelivered() {
      const next = (await log.read(cursor, 1)).events[0]?.ts
      let oldest = next
      for (const ts of pending.values()) oldest = Math.min(ts, oldest ?? ts)
      return oldest
    },
    close() {},
  }
}
