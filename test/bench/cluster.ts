/**
 * Cluster benchmark (issue 4): revocation latency across three realtime
 * nodes on Redis, and the broadcast cost of the Redis Streams adapter
 * against the pub/sub adapter.
 *
 *   npm run bench:cluster        (LOGOUTS=100, BROADCASTS=2000 by default; BENCH_SMOKE=1 for a quick run)
 *
 * Revocation latency: for each logout, alice logs in (a new session), one
 * socket of that session connects to each of the three nodes, and the time
 * from sending the logout request to the third `rt:error token_revoked` is
 * recorded. The edge pushes to all three nodes; they also pull every 500 ms.
 *
 * Broadcast cost: two Socket.IO servers in separate processes share one
 * Redis through each adapter in turn; 20 clients are connected to server B;
 * server A broadcasts to their room; we time until every client has every
 * message.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpus } from 'node:os'
import { execSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { io as ioClient, type Socket } from 'socket.io-client'
import { cleanup, startCluster, startRedis } from '../cluster/support.ts'
import { freePort } from '../../edge/local/edge-process.ts'

const SMOKE = process.env.BENCH_SMOKE === '1'
const LOGOUTS = Number(process.env.LOGOUTS ?? (SMOKE ? 3 : 100))
const BROADCASTS = Number(process.env.BROADCASTS ?? (SMOKE ? 100 : 2000))
const CLIENTS = 20

function quantile(xs: number[], q: number) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!
}

async function revocationLatency(redisUrl: string): Promise<number[]> {
  const cluster = await startCluster(3, { redisUrl })
  const latencies: number[] = []
  for (let i = 0; i < LOGOUTS; i++) {
    const res = await fetch(`${cluster.edge.url}/auth/login`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'cf-connecting-ip': `10.9.${i >> 8}.${i & 255}`,
      },
      body: JSON.stringify({ username: 'alice', password: 'alice-password-1' }),
    })
    const tokens = (await res.json()) as { access_token: string; refresh_token: string }
    const sockets = await Promise.all(
      cluster.nodes.map(
        (node) =>
          new Promise<Socket>((resolve, reject) => {
            const s = ioClient(node.url, {
              auth: { token: tokens.access_token },
              transports: ['websocket'],
              reconnection: false,
              forceNew: true,
            })
            s.once('connect', () => resolve(s))
            s.once('connect_error', reject)
          }),
      ),
    )
    const revoked = Promise.all(
      sockets.map(
        (s) => new Promise<number>((r) => s.once('rt:error', () => r(performance.now()))),
      ),
    )
    const start = performance.now()
    await fetch(`${cluster.edge.url}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: tokens.refresh_token }),
    })
    const times = await Promise.race([
      revoked,
      new Promise<never>((_, j) => setTimeout(() => j(new Error('not revoked in 10 s')), 10_000)),
    ])
    latencies.push(Math.max(...times) - start)
    for (const s of sockets) s.close()
  }
  return latencies
}

const SERVER = `
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { createClient } from 'redis'
const [kind, port] = process.argv.slice(2)
const client = createClient({ url: process.env.REDIS_URL })
await client.connect()
let adapter
if (kind === 'streams') {
  const { createAdapter } = await import('@socket.io/redis-streams-adapter')
  adapter = createAdapter(client, { streamName: 'bench:' + process.env.RUN })
} else {
  const { createAdapter } = await import('@socket.io/redis-adapter')
  const sub = client.duplicate(); await sub.connect()
  adapter = createAdapter(client, sub, { key: 'bench:' + process.env.RUN })
}
const http = createServer()
const io = new Server(http, { adapter, transports: ['websocket'] })
io.on('connection', (s) => s.join('room'))
process.on('message', (m) => {
  if (m.burst) { for (let i = 0; i < m.burst; i++) io.to('room').emit('m', i); }
})
http.listen(Number(port), '127.0.0.1', () => process.send({ ready: true }))
`

async function broadcastRate(
  redisUrl: string,
  kind: 'streams' | 'pubsub',
  run: number,
): Promise<number> {
  const script = fileURLToPath(new URL('./.tmp/adapter-server.mjs', import.meta.url))
  await mkdir(new URL('./.tmp/', import.meta.url), { recursive: true })
  await writeFile(script, SERVER)
  const ports = [await freePort(), await freePort()]
  const procs = ports.map((port) =>
    spawn(process.execPath, [script, kind, String(port)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, REDIS_URL: redisUrl, RUN: `${kind}-${run}` },
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    }),
  )
  try {
    await Promise.all(procs.map((p) => once(p, 'message')))
    const clients = await Promise.all(
      Array.from(
        { length: CLIENTS },
        () =>
          new Promise<Socket>((resolve) => {
            const s = ioClient(`http://127.0.0.1:${ports[1]}`, {
              transports: ['websocket'],
              forceNew: true,
            })
            s.once('connect', () => resolve(s))
          }),
      ),
    )
    await new Promise((r) => setTimeout(r, 300))
    const done = Promise.all(
      clients.map(
        (s) =>
          new Promise<void>((resolve) => {
            let n = 0
            s.on('m', () => {
              if (++n === BROADCASTS) resolve()
            })
          }),
      ),
    )
    const start = performance.now()
    procs[0]!.send({ burst: BROADCASTS })
    await done
    const seconds = (performance.now() - start) / 1000
    for (const s of clients) s.close()
    return BROADCASTS / seconds
  } finally {
    for (const p of procs) p.kill('SIGTERM')
  }
}

const redis = await startRedis()
try {
  const latencies = await revocationLatency(redis.url)
  const rates: Record<'streams' | 'pubsub', number[]> = { streams: [], pubsub: [] }
  for (let run = 0; run < (SMOKE ? 1 : 3); run++) {
    for (const kind of ['streams', 'pubsub'] as const)
      rates[kind].push(await broadcastRate(redis.url, kind, run))
  }
  const median = (xs: number[]) => quantile(xs, 0.5)
  const commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`
  const result = {
    date: new Date().toISOString(),
    commit,
    machine,
    revocation: {
      logouts: latencies.length,
      p50_ms: Math.round(quantile(latencies, 0.5)),
      p99_ms: Math.round(quantile(latencies, 0.99)),
      max_ms: Math.round(Math.max(...latencies)),
      method:
        'logout request sent → rt:error token_revoked on a socket of the session on each of 3 nodes (push + 500 ms pull), edge under wrangler dev',
    },
    broadcast: {
      clients: CLIENTS,
      messages: BROADCASTS,
      streams_msgs_per_s: rates.streams.map(Math.round),
      pubsub_msgs_per_s: rates.pubsub.map(Math.round),
      streams_vs_pubsub: Math.round((median(rates.streams) / median(rates.pubsub)) * 100) / 100,
    },
  }
  console.log(`cluster bench, ${machine}, commit ${commit}`)
  console.table({
    'revocation p50 ms': result.revocation.p50_ms,
    'revocation p99 ms': result.revocation.p99_ms,
    'revocation max ms': result.revocation.max_ms,
    'broadcasts/s, streams adapter (median)': Math.round(median(rates.streams)),
    'broadcasts/s, pub/sub adapter (median)': Math.round(median(rates.pubsub)),
    'streams ÷ pub/sub': result.broadcast.streams_vs_pubsub,
  })
  await mkdir(new URL('./results/', import.meta.url), { recursive: true })
  await writeFile(
    new URL(`./results/cluster${SMOKE ? '-smoke' : ''}.json`, import.meta.url),
    JSON.stringify(result, null, 2) + '\n',
  )
} finally {
  await cleanup()
  await redis.stop().catch(() => undefined)
}
