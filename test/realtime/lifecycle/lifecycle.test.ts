/**
 * A node's lifecycle wiring with `REALTIME_WEBHOOKS_DELIVER=false`: it
 * records events and keeps the endpoints' consumer groups, but never reads
 * or posts; a delivering node started later gets every event through the
 * group, including those recorded before it started.
 */
import { randomUUID } from 'node:crypto'
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createLifecycle, type Lifecycle } from '../../../realtime/lifecycle/lifecycle.ts'
import { endpointId } from '../../../realtime/lifecycle/webhooks/endpoints.ts'
import { silentLogger } from '../../../realtime/log.ts'
import { cleanup as stopRedis, connectRedis, type TestRedisClient } from '../../cluster/support.ts'
import { until } from '../waits.ts'
import { startReceiver, type Receiver } from './receiver.ts'

let client: TestRedisClient
const closers: (() => Promise<void> | void)[] = []
beforeAll(async () => {
  ;({ client } = await connectRedis())
}, 30_000)
afterEach(async () => {
  while (closers.length) await closers.pop()!()
})
afterAll(stopRedis)

/** A node's lifecycle on `prefix`, delivering to `receiver` unless `deliver` is false. */
function node(prefix: string, receiver: Receiver, deliver: boolean): Lifecycle {
  const lifecycle = createLifecycle(
    { redis: client, now: Date.now, logger: silentLogger, registry: new Registry() },
    {
      webhooks: [{ url: receiver.url, secret: receiver.secret }],
      deliver,
      redisPrefix: prefix,
      delivery: { pollMs: 20, readBlockMs: 200 },
    },
  )
  closers.push(() => lifecycle.close())
  return lifecycle
}
type GroupInfo = { name: string; consumers: number; lag: number | null }
async function groups(key: string): Promise<GroupInfo[]> {
  const raw = (await client.sendCommand(['XINFO', 'GROUPS', key])) as unknown[][]
  return raw.map((flat) => {
    const f = new Map<unknown, unknown>()
    for (let i = 0; i < flat.length; i += 2) f.set(flat[i], flat[i + 1])
    return {
      name: String(f.get('name')),
      consumers: Number(f.get('consumers')),
      lag: f.get('lag') === null ? null : Number(f.get('lag')),
    }
  })
}

describe('a node with webhook delivery off', () => {
  it('records events and makes the group but never reads or posts; a delivering node started later delivers every event', async () => {
    const receiver = await startReceiver()
    closers.push(() => receiver.close())
    const prefix = `test:lifecycle-deliver:${randomUUID()}:`
    const key = `${prefix}events`
    const group = `wh:${endpointId(receiver.url)}`
    const recorder = node(prefix, receiver, false)
    expect(recorder.deliverer).toBeUndefined()
    // The group exists before any delivering node does, so nothing recorded from now on is lost.
    let made: GroupInfo[] = []
    while (made.length === 0) made = await groups(key).catch(() => [])
    expect(made).toEqual([{ name: group, consumers: 0, lag: 0 }])
    for (let i = 0; i < 3; i++) {
      await recorder.log.revoked({ kind: 'session', id: `early-${i}`, at: 1, until: 2 })
    }
    // Recorded, waiting in the group, read by no one.
    expect(await groups(key)).toEqual([{ name: group, consumers: 0, lag: 3 }])
    expect(receiver.deliveries).toEqual([])

    const sender = node(prefix, receiver, true)
    await until(() => receiver.deliveries.length === 3, {
      timeoutMs: 20_000,
      what: 'the early events',
    })
    for (let i = 0; i < 2; i++) {
      await recorder.log.revoked({ kind: 'session', id: `late-${i}`, at: 1, until: 2 })
    }
    await until(() => receiver.deliveries.length === 5, {
      timeoutMs: 20_000,
      what: 'the late events',
    })
    expect(receiver.deliveries.every((d) => d.verified)).toBe(true)
    expect(receiver.deliveries.map((d) => d.event.data.id).sort()).toEqual([
      ...['early-0', 'early-1', 'early-2', 'late-0', 'late-1'],
    ])
    await until(() => sender.deliverer!.queued().get(endpointId(receiver.url)) === 0)
    // Only the delivering node ever read from the group.
    const [info] = await groups(key)
    expect(info).toMatchObject({ name: group, consumers: 1, lag: 0 })
  }, 60_000)

  it('refuses delivery off without Redis: no other node could deliver', () => {
    expect(() =>
      createLifecycle(
        { redis: undefined, now: Date.now, logger: silentLogger, registry: new Registry() },
        {
          webhooks: [{ url: 'http://127.0.0.1:9/h', secret: `whsec_${'A'.repeat(44)}` }],
          deliver: false,
        },
      ),
    ).toThrow(TypeError)
  })
})
