/**
 * 9. Lifecycle events (docs/webhooks.md): USERS (1,000) users churn on three
 * realtime socket nodes sharing one Redis (connect on one node, reload onto
 * the next inside the grace, leave), in three shapes:
 *
 * - `webhooks-off`: WEBHOOKS unset (the events are recorded all the same);
 * - `webhooks`: WEBHOOKS set, every socket node delivers;
 * - `webhooks-dedicated`: the socket nodes run with `REALTIME_WEBHOOKS_DELIVER=false`
 *   and a fourth node, which takes no sockets, delivers.
 *
 * Figures: events recorded per second; delivery latency from the transition
 * (the event's `ts`) to the receiver, p50/p99; the socket nodes' CPU per
 * connection in each shape (the cost to sockets; the issue's target is at
 * most 5 % more than with webhooks off); and the delivery CPU per event: the
 * delivery node's own CPU in the dedicated shape (less its idle rate,
 * sampled before the run), and the socket nodes' CPU (counted until the
 * last delivery, less their idle rate over that wait)
 * beyond the same run's webhooks-off in the every-node shape. The receiver
 * runs in a worker thread, so the load generator's busy event loop does not
 * delay arrivals. Each shape gets its own Redis, so nothing carries over,
 * and each run starts with an unmeasured warm-up round of WARMUP_USERS.
 * `LIFECYCLE_SHAPES=webhooks,webhooks-off` runs only those shapes;
 * `BENCH_CPU_PROF=webhooks,webhooks-dedicated,webhooks-deliverer,webhooks-off`
 * profiles those nodes.
 */
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import { freePort } from '../../../edge/local/edge-process.ts'
import { startRealtime } from '../../../edge/local/realtime-process.ts'
import { cleanup, startRedis } from '../../cluster/support.ts'
import type { BenchContext, SectionResult } from '../lib/context.ts'
import { rotate, serverFlags, sleep } from '../lib/context.ts'
import { connectSio, nextLocalAddress, type SioClient } from '../lib/sio-client.ts'
import { figure, quantile, type Figure } from '../lib/stats.ts'

const VARIANTS = ['webhooks', 'webhooks-dedicated', 'webhooks-off'] as const
type Variant = (typeof VARIANTS)[number]
/** The grace of the run: short, so a churn round settles quickly; reloads stay well inside it. */
const GRACE_MS = 1000
/** Users of the unmeasured warm-up round before each run. */
const WARMUP_USERS = 50
/** How long the nodes' idle CPU is sampled before a run, ms. */
const IDLE_SAMPLE_MS = 3000
/** Connections opened at once. */
const CONCURRENCY = 100
/** Longest wait for every offline to be recorded (and delivered), ms. */
const SETTLE_TIMEOUT_MS = 120_000

interface Run {
  eventsPerSecond: number
  latencies: number[]
  /** The socket nodes' CPU per connection, µs. */
  cpuPerConnectionUs: number
  /** The delivery node's CPU per event delivered, µs (dedicated shape). */
  deliveryCpuPerEventUs?: number
  events: number
  /** The socket nodes' CPU, µs. */
  socketCpuUs: number
}

/** Run the section. */
export async function benchLifecycle(ctx: BenchContext): Promise<SectionResult> {
  const users = ctx.smoke ? 30 : Number(process.env.LIFECYCLE_USERS ?? 1000)
  const shapes = process.env.LIFECYCLE_SHAPES?.split(',').map((s) => s.trim()) ?? VARIANTS
  for (const shape of shapes) {
    if (!VARIANTS.includes(shape as Variant)) throw new TypeError(`LIFECYCLE_SHAPES: ${shape}?`)
  }
  const runs: Record<Variant, Run[]> = {
    webhooks: [],
    'webhooks-dedicated': [],
    'webhooks-off': [],
  }
  for (let run = 0; run < (ctx.smoke ? 1 : ctx.runs); run++) {
    for (const variant of rotate(VARIANTS, run).filter((v) => shapes.includes(v))) {
      runs[variant].push(await churn(ctx, users, variant))
      ctx.log(`  ${variant}: ${JSON.stringify({ ...runs[variant].at(-1), latencies: undefined })}`)
    }
  }
  const on = runs.webhooks
  const dedicated = runs['webhooks-dedicated']
  const off = runs['webhooks-off']
  const p = (rs: Run[], q: number) =>
    figure([
      quantile(
        rs.flatMap((r) => r.latencies),
        q,
      ),
    ])
  /** The figures of the shapes that ran (LIFECYCLE_SHAPES may leave some out). */
  const when = (rs: Run[], figures: () => Record<string, Figure>) =>
    rs.length > 0 ? figures() : {}
  return {
    figures: {
      ...when(on, () => ({
        'events/s': figure(on.map((r) => r.eventsPerSecond)),
        'delivery p50': p(on, 0.5),
        'delivery p99': p(on, 0.99),
        'cpu per connection': figure(on.map((r) => r.cpuPerConnectionUs)),
      })),
      ...when(dedicated, () => ({
        'events/s dedicated': figure(dedicated.map((r) => r.eventsPerSecond)),
        'delivery p50 dedicated': p(dedicated, 0.5),
        'delivery p99 dedicated': p(dedicated, 0.99),
        'cpu per connection dedicated': figure(dedicated.map((r) => r.cpuPerConnectionUs)),
        'delivery cpu per event dedicated': figure(dedicated.map((r) => r.deliveryCpuPerEventUs!)),
      })),
      ...when(off, () => ({
        'events/s webhooks off': figure(off.map((r) => r.eventsPerSecond)),
        'cpu per connection webhooks off': figure(off.map((r) => r.cpuPerConnectionUs)),
      })),
      // Every node delivering: what the socket nodes spent beyond the same run without webhooks.
      ...when(on.length > 0 ? off : [], () => ({
        'delivery cpu per event on socket nodes': figure(
          on.map((r, i) => (r.socketCpuUs - off[i]!.socketCpuUs) / r.events),
        ),
      })),
    },
    config: {
      users,
      socketNodes: 3,
      graceMs: GRACE_MS,
      deliveries: on.flatMap((r) => r.latencies).length,
      deliveriesDedicated: dedicated.flatMap((r) => r.latencies).length,
    },
    notes: [
      `lifecycle: ${users} users each connect, reload onto another node and leave, on 3 socket nodes; webhooks delivered by every socket node, or by a 4th node with REALTIME_WEBHOOKS_DELIVER=false on the socket nodes; delivery latency is event ts → receiver (in a worker thread), over every event of every run`,
    ],
  }
}

/** The receiver, in a worker thread: it answers 204 and reports each first arrival's latency. */
const RECEIVER = `
const { createServer } = require('node:http')
const { parentPort } = require('node:worker_threads')
const arrivals = new Map()
const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const at = Date.now()
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (!arrivals.has(event.id)) arrivals.set(event.id, at - event.ts)
    res.writeHead(204).end()
  })
})
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }))
parentPort.on('message', (m) => {
  if (m === 'count') parentPort.postMessage({ count: arrivals.size })
  if (m === 'reset') arrivals.clear(), parentPort.postMessage({})
  if (m === 'collect') parentPort.postMessage({ latencies: [...arrivals.values()] })
})
`

/** Start the receiver worker; `ask` sends it a request and resolves with its answer. */
async function startReceiver() {
  const worker = new Worker(RECEIVER, { eval: true })
  const [{ port }] = (await once(worker, 'message')) as [{ port: number }]
  const ask = async <T>(what: 'count' | 'collect' | 'reset'): Promise<T> => {
    const answer = once(worker, 'message') as Promise<[T]>
    worker.postMessage(what)
    return (await answer)[0]
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    count: async () => (await ask<{ count: number }>('count')).count,
    latencies: async () => (await ask<{ latencies: number[] }>('collect')).latencies,
    reset: () => ask<object>('reset'),
    close: () => worker.terminate(),
  }
}

/** One churn run on a fresh Redis and fresh nodes. */
async function churn(ctx: BenchContext, users: number, variant: Variant): Promise<Run> {
  const receiver = await startReceiver()
  const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`
  const hooks = variant !== 'webhooks-off' && {
    WEBHOOKS: JSON.stringify([{ url: receiver.url, secret }]),
  }
  try {
    const redis = await startRedis()
    const start = async (env: Record<string, string>, profileAs: string) =>
      startRealtime(
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
          ...hooks,
          ...env,
        },
        { stdio: 'ignore', nodeArgs: serverFlags(ctx, profileAs) },
      )
    const deliverer =
      variant === 'webhooks-dedicated' ? await start({}, 'webhooks-deliverer') : undefined
    const nodes: Awaited<ReturnType<typeof startRealtime>>[] = []
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await start(
          variant === 'webhooks-dedicated' ? { REALTIME_WEBHOOKS_DELIVER: 'false' } : {},
          variant,
        ),
      )
    }
    const cpuOf = async (list: { url: string }[]) => {
      let total = 0
      for (const node of list) {
        const text = await (await fetch(`${node.url}/metrics`)).text()
        total += Number(/^realtime_process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? 0)
      }
      return total * 1e6
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
    const open = (sub: string, node: number) =>
      connectSio(nodes[node % 3]!.url, {
        auth: { token: ctx.issuer.mint({ sub, sid: `s-${sub}-${Math.random()}` }) },
        localAddress: nextLocalAddress(),
      })
    /** `count` users connect, reload onto the next node and leave; resolves with the connections made. */
    const churnUsers = async (prefix: string, count: number) => {
      let connections = 0
      for (let from = 0; from < count; from += CONCURRENCY) {
        const batch = Array.from(
          { length: Math.min(CONCURRENCY, count - from) },
          (_, i) => from + i,
        )
        const first: SioClient[] = await Promise.all(batch.map((u) => open(`${prefix}-${u}`, u)))
        // A reload: the tab closes and opens again on another node, inside the grace.
        first.forEach((c) => c.close())
        const second = await Promise.all(batch.map((u) => open(`${prefix}-${u}`, u + 1)))
        connections += 2 * batch.length
        second.forEach((c) => c.close())
      }
      return connections
    }
    /** Wait until `offline` users went offline (scrapes cost the nodes CPU: twice a second only). */
    const settled = async (offline: number, deadline: number) => {
      let counts = await recorded()
      while (counts.offline < offline && Date.now() < deadline) {
        await sleep(500)
        counts = await recorded()
      }
      return counts
    }
    // A warm-up round, not measured, the same for every shape: what a process pays once (JIT,
    // connections, the HTTP client's parser compiled) is not a cost per connection.
    const warmUsers = ctx.smoke ? 5 : WARMUP_USERS
    await churnUsers('warm', warmUsers)
    const warmed = await settled(warmUsers, Date.now() + SETTLE_TIMEOUT_MS)
    const warmEvents = warmed.online + warmed.offline
    while (hooks && (await receiver.count()) < warmEvents) await sleep(100)
    await receiver.reset()
    // Every node's CPU when idle (presence, the adapter, timers), to take out of the time spent
    // waiting for deliveries after the churn and from the delivery node's figure.
    const idle0 = {
      sockets: await cpuOf(nodes),
      deliverer: deliverer ? await cpuOf([deliverer]) : 0,
    }
    const idleFrom = Date.now()
    await sleep(IDLE_SAMPLE_MS)
    const idleMs = Date.now() - idleFrom
    const socketIdleUsPerMs = ((await cpuOf(nodes)) - idle0.sockets) / idleMs
    const idleUsPerMs = deliverer ? ((await cpuOf([deliverer])) - idle0.deliverer) / idleMs : 0
    const cpuBefore = await cpuOf(nodes)
    const deliveryCpuBefore = deliverer ? await cpuOf([deliverer]) : 0
    const started = Date.now()
    const connections = await churnUsers('churn', users)
    // The same end for every shape: every offline recorded. CPU and rate stop here; deliveries may trail.
    const deadline = Date.now() + SETTLE_TIMEOUT_MS
    const counts = await settled(warmed.offline + users, deadline)
    const recordedAt = Date.now()
    const seconds = (recordedAt - started) / 1000
    const events = counts.online + counts.offline - warmEvents
    // The socket nodes' CPU runs until every event is delivered (deliveries that trail the churn
    // are its cost too), less their idle rate over that wait.
    while (hooks && (await receiver.count()) < events && Date.now() < deadline) await sleep(100)
    const socketCpuUs =
      (await cpuOf(nodes)) - cpuBefore - socketIdleUsPerMs * (Date.now() - recordedAt)
    const deliveryCpuUs = deliverer
      ? (await cpuOf([deliverer])) - deliveryCpuBefore - idleUsPerMs * (Date.now() - started)
      : 0
    for (const node of [...nodes, ...(deliverer ? [deliverer] : [])]) await node.stop()
    const latencies = await receiver.latencies()
    return {
      eventsPerSecond: events / seconds,
      latencies,
      cpuPerConnectionUs: socketCpuUs / connections,
      ...(deliverer && { deliveryCpuPerEventUs: deliveryCpuUs / Math.max(1, latencies.length) }),
      events,
      socketCpuUs,
    }
  } finally {
    await cleanup()
    await receiver.close()
  }
}
