import type { RedisClient } from '../../presence/redis-eval.ts'
import { WEBHOOK_CLAIM_IDLE_MS } from '../../constants.ts'
import { parseEntry } from '../redis-log.ts'
import type { LifecycleEvent } from '../types.ts'
import type { WebhookEndpoint } from './endpoints.ts'
import type { DeliverySource } from './source.ts'

/** Options of {@link redisSource}. */
export interface RedisSourceOptions {
  client: RedisClient
  /** The log's stream key. */
  key: string
  /** This node's consumer name (unique per process). */
  consumer: string
  /** Idle time after which a held event is another node's to claim, ms. @default WEBHOOK_CLAIM_IDLE_MS */
  claimIdleMs?: number
}

type Entry = [string, string[]]

/**
 * A cluster's {@link DeliverySource} for one endpoint: the consumer group
 * `wh:<endpoint id>` on the log's stream. `XREADGROUP` gives each event to
 * one node; the node renews its hold with `XCLAIM … JUSTID` while it
 * retries; when it dies, its events go idle and another node takes them
 * with `XAUTOCLAIM`. The group starts at the log's end when first created.
 *
 * @param endpoint - the endpoint
 * @param options - {@link RedisSourceOptions}
 */
export function redisSource(
  endpoint: WebhookEndpoint,
  options: RedisSourceOptions,
): DeliverySource {
  const { client, key, consumer } = options
  const group = `wh:${endpoint.id}`
  const offKey = `${key}:${group}:off`
  const idle = String(options.claimIdleMs ?? WEBHOOK_CLAIM_IDLE_MS)
  let created: Promise<void> | undefined
  const ensureGroup = () =>
    (created ??= client.sendCommand(['XGROUP', 'CREATE', key, group, '$', 'MKSTREAM']).then(
      () => undefined,
      (err: Error) => {
        if (!err.message.startsWith('BUSYGROUP')) {
          created = undefined
          throw err
        }
      },
    ))
  // Start the group now, so events from here on are delivered.
  if (client.isReady) ensureGroup().catch(() => undefined)
  const withGroup = async <T>(run: () => Promise<T>): Promise<T> => {
    await ensureGroup()
    try {
      return await run()
    } catch (err) {
      // The stream (or the group) is gone: a Redis restart without persistence.
      if (!(err instanceof Error) || !err.message.startsWith('NOGROUP')) throw err
      created = undefined
      await ensureGroup()
      return run()
    }
  }
  const toEvents = (entries: (Entry | null)[]): LifecycleEvent[] =>
    entries.filter((e): e is Entry => Array.isArray(e) && Array.isArray(e[1])).map(parseEntry)

  return {
    async read(count) {
      if (!client.isReady || count <= 0) return []
      const reply = (await withGroup(() =>
        client.sendCommand([
          ...['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count)],
          ...['STREAMS', key, '>'],
        ]),
      )) as [string, Entry[]][] | null
      return reply ? toEvents(reply[0]![1]) : []
    },
    async claim(count) {
      if (!client.isReady || count <= 0) return []
      const reply = (await withGroup(() =>
        client.sendCommand([
          ...['XAUTOCLAIM', key, group, consumer, idle, '0-0', 'COUNT', String(count)],
        ]),
      )) as [string, (Entry | null)[], string[]?]
      return toEvents(reply[1])
    },
    async keep(offsets) {
      if (!client.isReady) return
      for (let i = 0; i < offsets.length; i += 100) {
        await client.sendCommand([
          ...['XCLAIM', key, group, consumer, '0', ...offsets.slice(i, i + 100), 'JUSTID'],
        ])
      }
    },
    async ack(offset) {
      await client.sendCommand(['XACK', key, group, offset])
    },
    async disabled() {
      return client.isReady && (await client.exists(offKey)) === 1
    },
    async disable() {
      await client.set(offKey, '1')
    },
    async oldestUndelivered() {
      if (!client.isReady) return undefined
      const [count, smallest] = (await client.sendCommand(['XPENDING', key, group])) as [
        number,
        string | null,
      ]
      const groups = (await client.sendCommand(['XINFO', 'GROUPS', key])) as string[][]
      const info = groups.find((g) => g[g.indexOf('name') + 1] === group)
      const last = info?.[info.indexOf('last-delivered-id') + 1]
      const unread = last
        ? ((await client.sendCommand(['XRANGE', key, `(${last}`, '+', 'COUNT', '1'])) as Entry[])
        : []
      const times = [
        ...(count > 0 && smallest ? [smallest] : []),
        ...(unread[0] ? [unread[0][0]] : []),
      ].map((id) => Number(id.slice(0, id.indexOf('-'))))
      return times.length > 0 ? Math.min(...times) : undefined
    },
  }
}
