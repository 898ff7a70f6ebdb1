import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { createRedisCluster, type RedisCluster } from '../../../realtime/cluster/redis-cluster.ts'
import { REVOKED_REDIS_PREFIX } from '../../../realtime/constants.ts'
import type { Logger } from '../../../realtime/log.ts'
import { cleanup as stopRedis, startRedis } from '../../cluster/support.ts'
import { until } from '../waits.ts'

let cluster: RedisCluster | undefined
afterEach(async () => {
  await cluster?.close()
  cluster = undefined
  await stopRedis()
})

describe('the cluster reload of stored revocations', () => {
  it('loads every known kind and skips, with a warning, a kind this version does not know', async () => {
    const redis = await startRedis()
    const lines: { msg: string; fields?: Record<string, unknown> }[] = []
    const logger: Logger = (_level, msg, fields) =>
      void lines.push({ msg, ...(fields && { fields }) })
    cluster = createRedisCluster(redis.url, logger)
    await until(() => cluster!.client.isReady, { timeoutMs: 30_000, what: 'redis ready' })
    const id = randomUUID()
    const expiresAt = Math.floor(Date.now() / 1000) + 600
    for (const kind of ['session', 'user', 'key', 'client'] as const)
      await cluster.persist({ kind, id, at: 1000, until: expiresAt })
    // What a newer version could have stored, under the same prefix.
    await cluster.client.set(
      `${REVOKED_REDIS_PREFIX}device:${id}`,
      JSON.stringify({ at: 1000, until: expiresAt }),
      { expiration: { type: 'EX', value: 600 } },
    )
    const mine = (await cluster.loadAll()).filter((event) => event.id === id)
    expect(mine.map((event) => event.kind).sort()).toEqual(['client', 'key', 'session', 'user'])
    expect(mine.every((event) => event.at === 1000 && event.until === expiresAt)).toBe(true)
    expect(lines).toContainEqual({
      msg: 'unknown revocation kind in redis skipped',
      fields: { kind: 'device' },
    })
    await cluster.client.del(
      ['session', 'user', 'key', 'client', 'device'].map(
        (k) => `${REVOKED_REDIS_PREFIX}${k}:${id}`,
      ),
    )
  })
})
