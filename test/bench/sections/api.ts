/**
 * 7. The server API (docs/protocol.md §8, §9): publish→delivery latency
 * across three realtime nodes on Redis, and publishes per second on one
 * node (memory store; and one node of the Redis cluster).
 *
 * Latency: alice has a socket on nodes 2 and 3; each publish goes to node 1
 * with a service token; the sample is the time from sending the request to
 * the later of the two deliveries (each publish is one sample; p50/p99 over
 * PUBLISHES sequential publishes in each run, the figure the median of runs).
 *
 * Throughput: CONCURRENCY requests in flight to one node for API_SECONDS,
 * each a publish to alice (appended to her stream and delivered to her one
 * socket); the figures are accepted publishes per second, and the node's
 * CPU time per publish (from /proc, robust to a loaded machine).
 */
import { createPrivateKey, randomUUID } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { SignJWT } from 'jose'
import { io as ioClient, type Socket } from 'socket.io-client'
import { freePort } from '../../../edge/local/edge-process.ts'
import { startRealtime, type RealtimeProcess } from '../../../edge/local/realtime-process.ts'
import { cleanup as stopRedis, startRedis } from '../../cluster/support.ts'
import type { BenchContext, SectionResult } from '../lib/context.ts'
import { commit, figure, machine, quantile } from '../lib/stats.ts'

/** Publishes timed per run for the latency figures. */
const PUBLISHES = Number(process.env.API_PUBLISHES ?? 300)
/** Seconds of load per throughput run. */
const API_SECONDS = Number(process.env.API_SECONDS ?? 5)
/** Requests in flight during the throughput runs. */
const CONCURRENCY = 32

export async function benchServerApi(ctx: BenchContext): Promise<SectionResult> {
  const publishes = ctx.smoke ? 20 : PUBLISHES
  const seconds = ctx.smoke ? 1 : API_SECONDS
  const token = await serviceToken(ctx)
  const redis = await startRedis()
  const nodes: (RealtimeProcess & { pid: number })[] = []
  const sockets: Socket[] = []
  try {
    const env = async (extra: Record<string, string> = {}) => ({
      REALTIME_PORT: String(await freePort()),
      ISSUER: ctx.issuer.url,
      JWKS_URL: ctx.issuer.jwksUrl,
      ALLOWED_ORIGINS: '*',
      LOG_LEVEL: 'warn',
      // Only the work is measured, not admission control.
      API_RATE: '100000',
      API_BURST: '100000',
      CONNECTION_RATE: '100000',
      ...extra,
    })
    for (let i = 0; i < 3; i++)
      nodes.push(await startRealtime(await env({ REDIS_URL: redis.url }), { stdio: 'ignore' }))
    const single = await startRealtime(await env(), { stdio: 'ignore' })
    nodes.push(single)
    const alice = (url: string) =>
      connectAs(url, ctx.issuer.mint({ sub: 'alice', sid: `s-${randomUUID()}` }), sockets)

    const p50: number[] = []
    const p99: number[] = []
    const memoryRate: number[] = []
    const redisRate: number[] = []
    const memoryCpu: number[] = []
    const redisCpu: number[] = []
    for (let run = 0; run < ctx.runs; run++) {
      const receivers = [await alice(nodes[1]!.url), await alice(nodes[2]!.url)]
      const samples = await latency(nodes[0]!.url, token, receivers, publishes)
      p50.push(quantile(samples, 0.5))
      p99.push(quantile(samples, 0.99))
      ctx.log(
        `  run ${run + 1}: publish→delivery on 2 other nodes p50 ${p50.at(-1)!.toFixed(2)} ms, p99 ${p99.at(-1)!.toFixed(2)} ms`,
      )
      for (const [node, out, cpu] of [
        [single, memoryRate, memoryCpu],
        [nodes[0]!, redisRate, redisCpu],
      ] as const) {
        await alice(node.url)
        const cpuBefore = await cpuMs(node.pid)
        const { rate, accepted } = await throughput(node.url, token, seconds)
        out.push(rate)
        cpu.push((((await cpuMs(node.pid)) - cpuBefore) * 1000) / accepted)
      }
      ctx.log(
        `  run ${run + 1}: server CPU per publish ${memoryCpu.at(-1)!.toFixed(0)} µs (memory), ${redisCpu.at(-1)!.toFixed(0)} µs (Redis)`,
      )
      ctx.log(
        `  run ${run + 1}: ${memoryRate.at(-1)!.toFixed(0)} publishes/s (one node, memory), ${redisRate.at(-1)!.toFixed(0)} (one node of the Redis cluster)`,
      )
      for (const socket of sockets.splice(0)) socket.close()
    }
    const result = {
      figures: {
        'publish→delivery p50': figure(p50),
        'publish→delivery p99': figure(p99),
        'publishes/s memory': figure(memoryRate),
        'publishes/s redis': figure(redisRate),
        'cpu per publish memory': figure(memoryCpu),
        'cpu per publish redis': figure(redisCpu),
      },
      config: { publishes, seconds, concurrency: CONCURRENCY },
      notes: [
        `server API: latency over ${publishes} sequential publishes per run to a user with sockets on the two other nodes; throughput with ${CONCURRENCY} requests in flight for ${seconds} s`,
      ],
    }
    // Its own file too, like edge.json and cluster.json: a BENCH_ONLY=api run leaves the others' figures alone.
    const file = fileURLToPath(
      new URL(`../results/api${ctx.smoke ? '-smoke' : ''}.json`, import.meta.url),
    )
    await writeFile(
      file,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          commit: commit(),
          machine: machine(),
          runs: ctx.runs,
          ...result,
        },
        null,
        2,
      ) + '\n',
    )
    return result
  } finally {
    for (const socket of sockets) socket.close()
    await Promise.all(nodes.map((node) => node.stop()))
    await stopRedis()
  }
}

/** A service token for the bench issuer: aud realtime-api, scope publish. */
async function serviceToken(ctx: BenchContext): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ scope: 'publish disconnect', client_id: 'bench-service' })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: ctx.issuer.key.kid })
    .setIssuer(ctx.issuer.url)
    .setAudience('realtime-api')
    .setSubject('bench-service')
    .setJti(randomUUID())
    .setIssuedAt(now)
    .setExpirationTime(now + 900)
    .sign(createPrivateKey(ctx.issuer.key.privatePem))
}

async function connectAs(url: string, token: string, sockets: Socket[]): Promise<Socket> {
  const socket = ioClient(url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  })
  sockets.push(socket)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('connect_error', reject)
  })
  return socket
}

function publish(url: string, token: string, data: unknown): Promise<Response> {
  return fetch(`${url}/api/v1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ to: { user: 'alice' }, event: 'bench.note', data }),
  })
}

/** ms from each request to the later of its deliveries on `receivers`. */
async function latency(
  url: string,
  token: string,
  receivers: Socket[],
  n: number,
): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    const arrived = receivers.map(
      (socket) =>
        new Promise<number>((resolve) => {
          const on = (payload: { data: number }) => {
            if (payload.data !== i) return
            socket.off('bench.note', on)
            resolve(performance.now())
          }
          socket.on('bench.note', on)
        }),
    )
    const res = await publish(url, token, i)
    if (res.status !== 202) throw new Error(`publish: HTTP ${res.status}`)
    await res.arrayBuffer()
    samples.push(Math.max(...(await Promise.all(arrived))) - start)
  }
  return samples
}

/**
 * CPU time a process has used, ms, from /proc (Linux): the server's own
 * cost, which neighbours on a loaded machine slow but do not add to.
 */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // utime and stime, in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** Accepted publishes per second with CONCURRENCY in flight for `seconds`, and how many. */
async function throughput(
  url: string,
  token: string,
  seconds: number,
): Promise<{ rate: number; accepted: number }> {
  const until = performance.now() + seconds * 1000
  let accepted = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const res = await publish(url, token, accepted)
        await res.arrayBuffer()
        if (res.status !== 202) throw new Error(`publish: HTTP ${res.status}`)
        accepted++
      }
    }),
  )
  return { rate: accepted / ((performance.now() - start) / 1000), accepted }
}
