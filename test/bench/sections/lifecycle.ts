/**
 * 9. Lifecycle events (docs/webhooks.md): USERS (1,000) users churn on three
 * realtime nodes sharing one Redis (connect on one node, reload onto the
 * next inside the grace, leave), once with a webhook receiver on loopback
 * and once with WEBHOOKS unset. Figures: events recorded per second,
 * delivery latency from the transition (the event's `ts`) to the receiver,
 * p50/p99, and the nodes' CPU per connection in both runs (the cost to
 * sockets; the issue's target is at most 5 % more). Each run gets its own
 * Redis, so nothing carries over.
 */
import { createServer } from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { freePort } from '../../../edge/local/edge-process.ts'
import { startRealtime } from '../../../edge/local/realtime-process.ts'
import { cleanup, startRedis } from '../../cluster/support.ts'
import type { BenchContext, SectionResult } from '../lib/context.ts'
import { rotate, sleep } from '../lib/context.ts'
import { connectSio, nextLocalAddress, type SioClient } from '../lib/sio-client.ts'
import { figure, quantile } from '../lib/stats.ts'

const VARIANTS = ['webhooks', 'webhooks-off'] as const
/** The grace of the run: short, so a churn round settles quickly; reloads stay well inside it. */
const GRACE_MS = 1000
/** Connections opened at once. */
const CONCURRENCY = 100
/** Longest wait for every offline to be recorded (and delivered), ms. */
const SETTLE_TIMEOUT_MS = 120_000

interface Run {
  eventsPerSecond: number
  latencies: number[]
  cpuPerConnectionUs: number
}

/** Run the section. */
export async function benchLifecycle(ctx: BenchContext): Promise<SectionResult> {
  const users = ctx.smoke ? 30 : Number(process.env.LIFECYCLE_USERS ?? 1000)
  const runs: Record<string, Run[]> = { webhooks: [], 'webhooks-off': [] }
  for (let run = 0; run < (ctx.smoke ? 1 : ctx.runs); run++) {
    for (const variant of rotate(VARIANTS, run)) {
      runs[variant]!.push(await churn(ctx, users, variant === 'webhooks'))
      ctx.log(`  ${variant}: ${JSON.stringify({ ...runs[variant]!.at(-1), latencies: undefined })}`)
    }
  }
  const on = runs.webhooks!
  const off = runs['webhooks-off']!
  const latencies = on.flatMap((r) => r.latencies)
  return {
    figures: {
      'events/s': figure(on.map((r) => r.eventsPerSecond)),
      'events/s webhooks off': figure(off.map((r) => r.eventsPerSecond)),
      'delivery p50': figure([quantile(latencies, 0.5)]),
      'delivery p99': figure([quantile(latencies, 0.99)]),
      'cpu per connection': figure(on.map((r) => r.cpuPerConnectionUs)),
      'cpu per connection webhooks off': figure(off.map((r) => r.cpuPerConnectionUs)),
    },
    config: { users, nodes: 3, graceMs: GRACE_MS, deliveries: latencies.length },
    notes: [
      `lifecycle: ${users} users each connect, reload onto another node and leave, on 3 nodes; delivery latency is event ts → receiver, over every event of every run`,
    ],
  }
}

/** One churn run on a fresh Redis and three fresh nodes. */
async function churn(ctx: BenchContext, users: number, webhooks: boolean): Promise<Run> {
  const arrivals = new Map<string, number>()
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = Date.now()
      const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; ts: number }
      if (!arrivals.has(event.id)) arrivals.set(event.id, at - event.ts)
      res.writeHead(204).end()
    })
  })
  receiver.listen(0, '127.0.0.1')
  await once(receiver, 'listening')
  const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`
  try {
    const redis = await startRedis()
    const nodes: Awaited<ReturnType<typeof startRealtime>>[] = []
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startRealtime(
          {
            REALTIME_PORT: String(await freePort()),
            ISSUER: ctx.issuer.url,
            JWKS_URL: ctx.issuer.jwksUrl,
            REDIS_URL: redis.url,
            ALLOWED_ORIGINS: '*',
            PRESENCE_GRACE_MS: String(GRACE_MS),
            CONNECTION_RATE: '100000',
            MAX_CONNECTIONS_PER_ADDRESS: '100000',
            LOG_LEVEL: 'error',
            ...(webhooks && { WEBHOOKS: JSON.stringify([{ url: hook, secret }]) }),
          },
          { stdio: 'ignore' },
        ),
      )
    }
    const cpu = async () => {
      let total = 0
      for (const node of nodes) {
        const text = await (await fetch(`${node.url}/metrics`)).text()
        total += Number(/^realtime_process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? 0)
      }
      return total
    }
    const recorded = async () => {
      const text = await (await fetch(`${nodes[0]!.url}/metrics`)).text()
      const of = (type: string) =>
        Number(
          new RegExp(`^realtime_events_recorded\\{type="${type}"\\} (\\S+)`, 'm').exec(text)?.[1] ??
            0,
        )
      return { online: of('user.online'), offline: of('user.offline') }
    }
    const cpuBefore = await cpu()
    const started = Date.now()
    const open = (u: number, node: number) =>
      connectSio(nodes[node % 3]!.url, {
        auth: { token: ctx.issuer.mint({ sub: `churn-${u}`, sid: `s-${u}-${Math.random()}` }) },
        localAddress: nextLocalAddress(),
      })
    let connections = 0
    for (let from = 0; from < users; from += CONCURRENCY) {
      const batch = Array.from({ length: Math.min(CONCURRENCY, users - from) }, (_, i) => from + i)
      const first: SioClient[] = await Promise.all(batch.map((u) => open(u, u)))
      // A reload: the tab closes and opens again on another node, inside the grace.
      first.forEach((c) => c.close())
      const second: SioClient[] = await Promise.all(batch.map((u) => open(u, u + 1)))
      connections += 2 * batch.length
      second.forEach((c) => c.close())
    }
    // The same end for both runs: every offline recorded. CPU and rate stop here; deliveries may trail.
    const deadline = Date.now() + SETTLE_TIMEOUT_MS
    let counts = await recorded()
    while (counts.offline < users && Date.now() < deadline) {
      // Scrapes cost the nodes CPU (the webhook gauges read Redis): look twice a second only.
      await sleep(500)
      counts = await recorded()
    }
    const seconds = (Date.now() - started) / 1000
    const cpuUs = ((await cpu()) - cpuBefore) * 1e6
    while (webhooks && arrivals.size < counts.online + counts.offline && Date.now() < deadline)
      await sleep(100)
    for (const node of nodes) await node.stop()
    return {
      eventsPerSecond: (counts.online + counts.offline) / seconds,
      latencies: [...arrivals.values()],
      cpuPerConnectionUs: cpuUs / connections,
    }
  } finally {
    await cleanup()
    receiver.closeAllConnections()
    receiver.close()
  }
}
