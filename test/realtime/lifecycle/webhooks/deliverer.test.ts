/**
 * Webhook delivery (docs/protocol.md §16) to real HTTP receivers on
 * loopback: retries with the same webhook-id and growing gaps, 410, a
 * receiver that never answers, a 24-hour outage on a driven clock, and a
 * deliverer that stops mid-delivery while another takes over through the
 * Redis consumer group.
 */
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { LifecycleMetrics } from '../../../../realtime/lifecycle/metrics.ts'
import { createMemoryLog } from '../../../../realtime/lifecycle/memory-log.ts'
import { createRedisLog } from '../../../../realtime/lifecycle/redis-log.ts'
import {
  createDeliverer,
  type Deliverer,
  type DelivererOptions,
} from '../../../../realtime/lifecycle/webhooks/deliverer.ts'
import {
  endpointId,
  type WebhookEndpoint,
} from '../../../../realtime/lifecycle/webhooks/endpoints.ts'
import { memorySource } from '../../../../realtime/lifecycle/webhooks/memory-source.ts'
import { redisSource } from '../../../../realtime/lifecycle/webhooks/redis-source.ts'
import { silentLogger, type Logger } from '../../../../realtime/log.ts'
import {
  cleanup as stopRedis,
  connectRedis,
  type TestRedisClient,
} from '../../../cluster/support.ts'
import { until } from '../../waits.ts'
import {
  memoryDeliverer,
  newSecret,
  startReceiver,
  testMetrics,
  type Receiver,
} from '../receiver.ts'

let client: TestRedisClient
const closers: (() => Promise<void> | void)[] = []
beforeAll(async () => {
  ;({ client } = await connectRedis())
}, 30_000)
afterEach(async () => {
  while (closers.length) await closers.pop()!()
})
afterAll(stopRedis)

const endpointOf = (receiver: Receiver, extra: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  id: endpointId(receiver.url),
  url: receiver.url,
  secret: receiver.secret,
  ...extra,
})
async function receiver(answer?: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(answer)
  closers.push(() => r.close())
  return r
}
const metrics = testMetrics
async function count(m: LifecycleMetrics, labels: Record<string, string>): Promise<number> {
  const { values } = await m.deliveries.get()
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k as 'outcome'] === l))
    .reduce((sum, v) => sum + v.value, 0)
}

/** A Redis log on a fresh prefix, and a deliverer of it for `endpoints` as a node named `consumer`. */
function clustered(prefix: string) {
  const log = createRedisLog({ client, prefix, logger: silentLogger })
  closers.push(() => log.close())
  let n = 0
  return {
    log,
    /** Record one event (a revocation: each one is recorded once). */
    record: () => log.revoked({ kind: 'session', id: `s-${n++}`, at: 1, until: 2 }),
    deliverer(
      endpoints: WebhookEndpoint[],
      options: Partial<DelivererOptions> & { claimIdleMs?: number; consumer?: string } = {},
    ): Deliverer {
      const { claimIdleMs, consumer, ...rest } = options
      const d = createDeliverer({
        endpoints,
        source: (e) =>
          redisSource(e, {
            client,
            key: log.key,
            consumer: consumer ?? randomUUID(),
            ...(claimIdleMs !== undefined && { claimIdleMs }),
          }),
        metrics: metrics(),
        logger: silentLogger,
        pollMs: 20,
        ...rest,
      })
      closers.push(() => d.close())
      return d
    },
  }
}
const prefix = () => `test:lifecycle:${randomUUID()}:`

describe('webhook delivery', () => {
  it('retries a receiver that answers 500 three times with the same webhook-id and growing gaps, then settles on 200', async () => {
    const r = await receiver((n) => (n < 3 ? 500 : 200))
    const node = clustered(prefix())
    const m = metrics()
    // No jitter: the delays are 500, 1000 and 2000 ms, so a gap only fails to exceed the last if
    // that one's retry was held up 500 ms more than its own (with jitter, 250 ms could do it).
    const d = node.deliverer([endpointOf(r)], {
      metrics: m,
      schedule: { firstRetryMs: 500 },
      random: () => 0,
    })
    await until(() => d.queued().size === 1)
    await node.record()
    await until(() => r.deliveries.length >= 4, { timeoutMs: 30_000, what: 'four deliveries' })
    const ids = new Set(r.deliveries.map((x) => x.id))
    expect(ids.size).toBe(1)
    expect(r.deliveries.every((x) => x.verified)).toBe(true)
    expect(r.deliveries[0]!.event).toMatchObject({
      type: 'session.revoked',
      data: { kind: 'session', id: 's-0' },
      id: [...ids][0],
    })
    const gaps = r.deliveries.slice(1).map((x, i) => x.at - r.deliveries[i]!.at)
    expect(gaps[0]).toBeGreaterThanOrEqual(500)
    expect(gaps[1]).toBeGreaterThan(gaps[0]!)
    expect(gaps[2]).toBeGreaterThan(gaps[1]!)
    expect(await count(m, { outcome: 'http_error' })).toBe(3)
    await until(() => d.queued().get(endpointOf(r).id) === 0, { what: 'settled' })
    expect(await count(m, { outcome: 'ok' })).toBe(1)
    // Acknowledged in the group: nothing pending for anyone to claim.
    const [pending] = (await client.sendCommand([
      'XPENDING',
      node.log.key,
      `wh:${endpointOf(r).id}`,
    ])) as [number]
    expect(pending).toBe(0)
  }, 60_000)

  it('disables an endpoint that answers 410, for every node, and keeps delivering to the others', async () => {
    const gone = await receiver(() => 410)
    const ok = await receiver()
    const node = clustered(prefix())
    const m = metrics()
    const d = node.deliverer([endpointOf(gone), endpointOf(ok)], { metrics: m })
    await until(() => d.queued().size === 2)
    await node.record()
    await until(() => gone.deliveries.length === 1 && ok.deliveries.length === 1)
    await until(async () => (await count(m, { outcome: 'gone' })) === 1, {
      what: 'gone counted',
      timeoutMs: 10_000,
    })
    // A second node starting now sees the endpoint disabled too.
    const other = node.deliverer([endpointOf(gone)], { claimIntervalMs: 10 })
    await node.record()
    await node.record()
    await until(() => ok.deliveries.length === 3, { what: 'the healthy endpoint' })
    await other.tick()
    await d.tick()
    expect(gone.deliveries).toHaveLength(1)
    expect(await client.exists(`${node.log.key}:wh:${endpointOf(gone).id}:off`)).toBe(1)
  }, 30_000)

  it('holds no more than its queue bound for a receiver that never answers, counts and logs it, and the other endpoint gets every event', async () => {
    const hung = await receiver(() => 'hang')
    const ok = await receiver()
    const node = clustered(prefix())
    const m = metrics()
    const lines: [string, string, Record<string, unknown>?][] = []
    const logger: Logger = (level, msg, fields) => lines.push([level, msg, fields])
    const d = node.deliverer([endpointOf(hung), endpointOf(ok)], {
      ...{ metrics: m, logger, queueMax: 3, concurrency: 2, timeoutMs: 60_000 },
    })
    await until(() => d.queued().size === 2)
    for (let i = 0; i < 10; i++) await node.record()
    await until(() => ok.deliveries.length === 10, { what: 'all ten to the healthy endpoint' })
    await until(() => d.queued().get(endpointOf(hung).id) === 3, { what: 'the bound reached' })
    // Only `concurrency` requests are open to it; the other events wait in the log, not here.
    await until(() => hung.deliveries.length === 2, { what: 'two requests open to it' })
    await d.tick()
    expect(d.queued().get(endpointOf(hung).id)).toBe(3)
    expect(hung.deliveries.length).toBe(2)
    const hungId = endpointOf(hung).id
    const full = (await m.queueFull.get()).values.find((v) => v.labels.endpoint === hungId)
    expect(full?.value).toBe(1)
    const logged = lines.filter(
      ([, msg, f]) => msg.startsWith('webhook queue full') && f?.endpoint === hungId,
    )
    expect(logged).toEqual([['warn', expect.any(String), { endpoint: hungId, held: 3 }]])
    // Its oldest undelivered event's age is reported (cluster-wide, from the group); the
    // healthy endpoint's is 0 once its last acknowledgements (sent in a batch) have landed.
    await until(async () => (await d.oldest()).get(endpointOf(ok).id) === 0, {
      what: "the healthy endpoint's acknowledgements",
    })
    expect((await d.oldest()).get(endpointOf(hung).id)).toBeGreaterThanOrEqual(0)
    const [pending] = (await client.sendCommand([
      'XPENDING',
      node.log.key,
      `wh:${endpointOf(hung).id}`,
    ])) as [number]
    expect(pending).toBe(3)
  }, 30_000)

  it('when the delivering node stops mid-delivery, another node claims the event and delivers it; repeats only by id', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : 200))
    const node = clustered(prefix())
    const first = node.deliverer([endpointOf(r)], { timeoutMs: 60_000 })
    await until(() => first.queued().size === 1)
    await node.record()
    await until(() => r.deliveries.length === 1, { what: 'the first attempt' })
    // The second node is started after the first read the event: only a claim can give it to it.
    const second = node.deliverer([endpointOf(r)], { claimIdleMs: 500, claimIntervalMs: 100 })
    await first.close()
    await until(() => r.deliveries.length === 2, { timeoutMs: 20_000, what: 'the claim' })
    expect(r.deliveries[1]!.id).toBe(r.deliveries[0]!.id)
    expect(r.deliveries[1]!.verified).toBe(true)
    await until(() => second.queued().get(endpointOf(r).id) === 0)
  }, 30_000)

  it('filters by type per endpoint', async () => {
    const online = await receiver()
    const {
      log,
      deliverer: d,
      endpoint,
    } = memoryDeliverer(online.url, online.secret, {
      types: ['user.online'],
    })
    closers.push(() => d.close())
    log.transition('room.occupied', 'lobby')
    log.transition('user.online', 'u1')
    log.transition('user.offline', 'u1')
    log.transition('user.online', 'u2')
    await until(() => online.deliveries.length === 2)
    await until(() => d.queued().get(endpoint.id) === 0)
    // Concurrent deliveries arrive in any order; receivers order by offset.
    expect(online.deliveries.map((x) => x.event.data.sub).sort()).toEqual(['u1', 'u2'])
  })
})

describe('the request', () => {
  it('does not follow a redirect, and settles on a 2xx whose body is far past the drain bound; the connection after it still delivers', async () => {
    const seen: { method: string; url: string; id: string }[] = []
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, id: String(req.headers['webhook-id']) })
        if (req.url === '/elsewhere') return void res.writeHead(200).end()
        // First a redirect, then 200 with 1 MiB of body (drained up to its bound, then dropped).
        if (seen.length === 1) return void res.writeHead(307, { location: '/elsewhere' }).end()
        res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(1 << 20))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    closers.push(() => {
      server.closeAllConnections()
      server.close()
    })
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
    const endpoint: WebhookEndpoint = { id: endpointId(url), url, secret: newSecret() }
    const node = clustered(prefix())
    const m = metrics()
    const d = node.deliverer([endpoint], { metrics: m, schedule: { firstRetryMs: 50 } })
    await until(() => d.queued().size === 1)
    await node.record()
    await until(async () => (await count(m, { outcome: 'ok' })) === 1, {
      what: 'the retry',
      timeoutMs: 10_000,
    })
    expect(await count(m, { outcome: 'http_error' })).toBe(1)
    await node.record()
    await until(async () => (await count(m, { outcome: 'ok' })) === 2, {
      what: 'the next',
      timeoutMs: 10_000,
    })
    expect(seen.map((x) => `${x.method} ${x.url}`)).toEqual(Array(3).fill('POST /hook'))
    expect(seen[1]!.id).toBe(seen[0]!.id)
    expect(seen[2]!.id).not.toBe(seen[0]!.id)
  })

  it('counts a receiver that does not answer within the timeout as a timeout, and retries it', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : 200))
    const node = clustered(prefix())
    const m = metrics()
    const d = node.deliverer([endpointOf(r)], {
      ...{ metrics: m, timeoutMs: 300, schedule: { firstRetryMs: 50 } },
    })
    await until(() => d.queued().size === 1)
    await node.record()
    await until(() => r.deliveries.length === 2, { what: 'the retry' })
    await until(async () => (await count(m, { outcome: 'ok' })) === 1, { timeoutMs: 10_000 })
    expect(await count(m, { outcome: 'timeout' })).toBe(1)
    expect(r.deliveries[1]!.id).toBe(r.deliveries[0]!.id)
  })

  it('sends through an injected fetch when given one, without following redirects', async () => {
    const r = await receiver((n) => (n === 0 ? 307 : 200))
    const node = clustered(prefix())
    const m = metrics()
    const seen: RequestInit[] = []
    const d = node.deliverer([endpointOf(r)], {
      ...{ metrics: m, schedule: { firstRetryMs: 50 } },
      fetch: (url, init) => {
        seen.push(init!)
        return fetch(url, init)
      },
    })
    await until(() => d.queued().size === 1)
    await node.record()
    await until(() => r.deliveries.length === 2, { what: 'two attempts' })
    await until(async () => (await count(m, { outcome: 'ok' })) === 1, { timeoutMs: 10_000 })
    expect(await count(m, { outcome: 'http_error' })).toBe(1)
    expect(seen[0]).toMatchObject({ method: 'POST', redirect: 'manual' })
  })
})

describe('the retry schedule on a driven clock', () => {
  /** A memory log and a deliverer whose clock and ticks the test drives; jitter 0. */
  async function driven(r: Receiver) {
    let clock = Date.UTC(2026, 0, 1)
    const log = createMemoryLog({ now: () => clock })
    const m = metrics()
    const d = createDeliverer({
      endpoints: [endpointOf(r)],
      source: (e) => memorySource(log, e, silentLogger),
      ...{ metrics: m, logger: silentLogger, now: () => clock, pollMs: 0, random: () => 0 },
    })
    closers.push(() => d.close())
    let settled = 0
    /** Tick at `clock` and wait for the attempt it starts to settle. */
    const attempt = async () => {
      await d.tick()
      settled++
      const total = async () => (await m.deliveries.get()).values.reduce((s, v) => s + v.value, 0)
      await until(async () => (await total()) >= settled, {
        what: `attempt ${settled}`,
        timeoutMs: 10_000,
      })
    }
    return {
      log,
      m,
      d,
      attempt,
      get clock() {
        return clock
      },
      set clock(t: number) {
        clock = t
      },
    }
  }

  it('retries a receiver down for 20 hours: first within 10 s, doubling, capped at 1 h, then delivers the same id', async () => {
    const r = await receiver(() => 503)
    const run = await driven(r)
    run.log.transition('user.offline', 'bob')
    const start = run.clock
    await run.attempt()
    let delay = 5000
    while (run.clock - start < 20 * 3_600_000) {
      run.clock += delay
      await run.attempt()
      delay = Math.min(delay * 2, 3_600_000)
    }
    r.answer(() => 200)
    run.clock += delay
    await run.attempt()
    expect(new Set(r.deliveries.map((x) => x.id)).size).toBe(1)
    expect(r.deliveries.every((x) => x.verified)).toBe(true)
    const gaps = r.deliveries.slice(1).map((x, i) => x.timestamp - r.deliveries[i]!.timestamp)
    expect(gaps[0]).toBeLessThanOrEqual(10)
    for (let i = 1; i < gaps.length; i++) {
      expect(gaps[i]).toBe(Math.min(gaps[i - 1]! * 2, 3600))
    }
    expect(gaps.at(-1)).toBe(3600)
    expect(await count(run.m, { outcome: 'ok' })).toBe(1)
    expect(run.d.queued().get(endpointOf(r).id)).toBe(0)
  }, 120_000)

  it('keeps retrying for at least 24 hours, then drops the event and counts it expired', async () => {
    const r = await receiver(() => 503)
    const run = await driven(r)
    run.log.transition('room.vacated', 'lobby')
    const start = run.clock
    await run.attempt()
    let delay = 5000
    while (run.d.queued().get(endpointOf(r).id) === 1) {
      run.clock += delay
      await run.attempt()
      delay = Math.min(delay * 2, 3_600_000)
    }
    const last = r.deliveries.at(-1)!.timestamp * 1000
    expect(last - start).toBeGreaterThanOrEqual(24 * 3_600_000)
    expect(await count(run.m, { outcome: 'expired' })).toBe(1)
  }, 120_000)
})
