import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../../log.ts'
import type { RedisClient } from '../../presence/redis-eval.ts'
import { WEBHOOK_CLAIM_IDLE_MS, WEBHOOK_POLL_MS, WEBHOOK_READ_BLOCK_MS } from '../../constants.ts'
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
  /**
   * Longest a read waits for new events (`XREADGROUP … BLOCK`, on a
   * connection of its own), ms; 0: reads return at once (the deliverer polls).
   * @default WEBHOOK_READ_BLOCK_MS (5 s)
   */
  blockMs?: number
  /** Where the blocking connection's errors go. @default none */
  logger?: Logger
}

type Entry = [string, string[]]

/** Create an endpoint's consumer group at the log's end (MKSTREAM); an existing one is kept. */
async function createGroup(client: RedisClient, key: string, group: string): Promise<void> {
  try {
    await client.sendCommand(['XGROUP', 'CREATE', key, group, '$', 'MKSTREAM'])
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('BUSYGROUP')) throw err
  }
}

/**
 * For a node that records events but does not deliver them
 * (`REALTIME_WEBHOOKS_DELIVER=false`): make each endpoint's consumer group
 * now and on every reconnect (a Redis restart without persistence loses
 * it), so events recorded before any delivering node starts still wait in
 * the group for it.
 *
 * @param client - the cluster's client
 * @param key - the log's stream key
 * @param endpoints - the `WEBHOOKS` endpoints
 * @param logger - where a failure is reported
 * @returns `close()`, which stops following reconnects
 */
export function keepDeliveryGroups(
  client: RedisClient,
  key: string,
  endpoints: readonly WebhookEndpoint[],
  logger: Logger,
): { close(): void } {
  const create = () => {
    for (const endpoint of endpoints) {
      createGroup(client, key, `wh:${endpoint.id}`).catch((err: Error) =>
        logger('warn', 'webhook consumer group not created', {
          ...{ endpoint: endpoint.id, error: err.message },
        }),
      )
    }
  }
  if (client.isReady) create()
  client.on('ready', create)
  return { close: () => void client.off('ready', create) }
}

/**
 * A cluster's {@link DeliverySource} for one endpoint: the consumer group
 * `wh:<endpoint id>` on the log's stream. `XREADGROUP` gives each event to
 * one node; the node renews its hold with `XCLAIM … JUSTID` while it
 * retries; when it dies, its events go idle and another node takes them
 * with `XAUTOCLAIM`. The group starts at the log's end when first created.
 * Reads block on a connection of their own (a blocked command would hold
 * up everything queued behind it on the shared one), so an idle endpoint
 * costs one command per `blockMs`, not one per poll, and a new event is
 * read as soon as it is recorded. Acknowledgements are one `XACK` per batch.
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
  const blockMs = options.blockMs ?? WEBHOOK_READ_BLOCK_MS
  const closing = new AbortController()
  let reader: RedisClient | undefined
  let readerReady: Promise<unknown> | undefined
  let lastError = ''
  /** The blocking reads' own connection, opened on first use. */
  const blockingClient = async (): Promise<RedisClient> => {
    if (closing.signal.aborted) throw new Error('webhook source closed')
    if (!reader) {
      reader = client.duplicate()
      reader.on('error', (err: Error) => {
        // Once per distinct error, not once per reconnect attempt.
        if (err.message !== lastError) {
          options.logger?.('warn', 'webhook reader redis error', {
            ...{ endpoint: endpoint.id, error: err.message },
          })
        }
        lastError = err.message
      })
      reader.on('ready', () => (lastError = ''))
      readerReady = reader.connect()
    }
    await readerReady
    return reader
  }
  let created: Promise<void> | undefined
  const ensureGroup = () =>
    (created ??= createGroup(client, key, group).catch((err: unknown) => {
      created = undefined
      throw err
    }))
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
    blocking: blockMs > 0,
    async read(count) {
      if (count <= 0) return []
      if (!client.isReady) {
        // Redis away: a blocking reader waits here rather than spinning.
        if (blockMs > 0) await sleep(WEBHOOK_POLL_MS, undefined, { signal: closing.signal })
        return []
      }
      const via = blockMs > 0 ? await blockingClient() : client
      const block = blockMs > 0 ? ['BLOCK', String(blockMs)] : []
      const reply = (await withGroup(() =>
        via.sendCommand([
          ...['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(count), ...block],
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
    async ack(offsets) {
      if (offsets.length === 0) return
      await client.sendCommand(['XACK', key, group, ...offsets])
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
    close() {
      closing.abort()
      // A blocked XREADGROUP rejects; what it would have read stays in the group for the next read.
      if (reader?.isOpen) reader.destroy()
      reader = undefined
    },
  }
}
