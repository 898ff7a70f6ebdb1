/**
 * Edge benchmark under Miniflare (`wrangler dev`): login latency (the password
 * hash dominates), refresh latency (the same path without the hash), token
 * mint rate via refresh, and JWKS requests per second with and without
 * If-None-Match. Each figure is the median of RUNS runs with the spread.
 *
 *   npm run bench:edge            (RUNS=3 SECONDS=5 LOGINS=20 by default)
 *
 * `npm run bench` runs it as its "edge under Miniflare" section. The edge it
 * starts has its refresh limits lifted (REFRESH_LIMIT_PER_SESSION and
 * REFRESH_LIMIT_PER_ADDRESS, docs/configuration.md), and says so; no other edge does.
 */
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { execSync } from 'node:child_process'
import { demoUsersSql } from '../../edge/local/demo-users.ts'
import { startEdge } from '../../edge/local/edge-process.ts'
import { REFRESH_LIMIT_PER_ADDRESS, REFRESH_LIMIT_PER_SESSION } from '../../edge/constants.ts'

const RUNS = Number(process.env.RUNS ?? 3)
const SECONDS = Number(process.env.SECONDS ?? 5)
const LOGINS = Number(process.env.LOGINS ?? 20)
const CONCURRENCY = 4

/**
 * The refresh limits (docs/configuration.md) would turn a throughput measurement into a 429
 * count: this edge alone, started for the bench, has them lifted, and the output says so.
 */
const LIFTED_LIMITS = {
  REFRESH_LIMIT_PER_SESSION: '999999999',
  REFRESH_LIMIT_PER_ADDRESS: '999999999',
}
const LIFTED_NOTE = `edge: refresh limits lifted for the bench (${Object.entries(LIFTED_LIMITS)
  .map(([k, v]) => `${k}=${v}`)
  .join(
    ', ',
  )}; defaults ${REFRESH_LIMIT_PER_SESSION} per session and ${REFRESH_LIMIT_PER_ADDRESS} per address per minute)`
/**
 * Refreshes of one session timed per run: always past the default per-session limit, so a
 * smoke run dies (`refresh 429`) if the lifted limits stop reaching the edge.
 */
const REFRESHES = Math.max(LOGINS, REFRESH_LIMIT_PER_SESSION + 1)

const stateDir = await mkdtemp(join(tmpdir(), 'edgegate-bench-'))
console.log(LIFTED_NOTE)
const edge = await startEdge({
  port: 0,
  stateDir,
  stdio: 'ignore',
  seedSql: await demoUsersSql(),
  vars: LIFTED_LIMITS,
})

type Tokens = { access_token: string; refresh_token: string }

async function post(path: string, body: unknown, ip = '10.0.0.1') {
  return fetch(`${edge.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': ip },
    body: JSON.stringify(body),
  })
}

function quantile(xs: number[], q: number) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

async function timeEach(n: number, fn: (i: number) => Promise<void>) {
  const ms: number[] = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await fn(i)
    ms.push(performance.now() - t)
  }
  return ms
}

async function rate(seconds: number, concurrency: number, fn: (worker: number) => Promise<void>) {
  let count = 0
  const end = performance.now() + seconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < end) {
        await fn(worker)
        count++
      }
    }),
  )
  return count / seconds
}

const results: Record<string, number[]> = {}
const record = (name: string, v: number) => (results[name] ??= []).push(v)

try {
  for (let run = 0; run < RUNS; run++) {
    const logins = await timeEach(LOGINS, async () => {
      const res = await post('/auth/login', { username: 'alice', password: 'alice-password-1' })
      if (res.status !== 200) throw new Error(`login ${res.status}`)
      await res.body?.cancel()
    })
    record('login p50 ms', quantile(logins, 0.5))
    record('login p95 ms', quantile(logins, 0.95))

    const failed = await timeEach(4, async (i) => {
      const res = await post(
        '/auth/login',
        { username: `nobody-${run}-${i}`, password: 'x' },
        `10.1.${run}.${i}`,
      )
      if (res.status !== 401) throw new Error(`failed login ${res.status}`)
      await res.body?.cancel()
    })
    record('failed login (unknown user) p50 ms', quantile(failed, 0.5))

    const refreshTokens: string[] = []
    for (let i = 0; i < CONCURRENCY; i++) {
      const res = await post('/auth/login', { username: 'bob', password: 'bob-password-1' })
      refreshTokens.push(((await res.json()) as Tokens).refresh_token)
    }
    const refreshLatency = await timeEach(REFRESHES, async () => {
      const res = await post('/auth/refresh', { refresh_token: refreshTokens[0] })
      if (res.status !== 200) throw new Error(`refresh ${res.status}`)
      refreshTokens[0] = ((await res.json()) as Tokens).refresh_token
    })
    record('refresh p50 ms', quantile(refreshLatency, 0.5))
    const mintRate = await rate(SECONDS, CONCURRENCY, async (i) => {
      const res = await post('/auth/refresh', { refresh_token: refreshTokens[i] })
      if (res.status !== 200) throw new Error(`refresh ${res.status}`)
      refreshTokens[i] = ((await res.json()) as Tokens).refresh_token
    })
    record('tokens minted/s (refresh, 4 concurrent)', mintRate)

    const first = await fetch(`${edge.url}/.well-known/jwks.json`)
    const etag = first.headers.get('etag')!
    await first.body?.cancel()
    record(
      'JWKS req/s (200)',
      await rate(SECONDS, 8, async () => {
        const res = await fetch(`${edge.url}/.well-known/jwks.json`)
        await res.arrayBuffer()
      }),
    )
    record(
      'JWKS req/s (304, If-None-Match)',
      await rate(SECONDS, 8, async () => {
        const res = await fetch(`${edge.url}/.well-known/jwks.json`, {
          headers: { 'if-none-match': etag },
        })
        await res.arrayBuffer()
      }),
    )
  }
} finally {
  await edge.stop()
  await rm(stateDir, { recursive: true, force: true })
}

const commit = (() => {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
  } catch {
    return 'unknown'
  }
})()
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`
const rows = Object.entries(results).map(([name, xs]) => {
  const med = quantile(xs, 0.5)
  const r = (x: number) => Math.round(x * 10) / 10
  return { name, median: r(med), min: r(Math.min(...xs)), max: r(Math.max(...xs)), runs: xs.map(r) }
})
console.log(
  `edge under wrangler dev (Miniflare/workerd), ${RUNS} runs, ${machine}, commit ${commit}`,
)
console.table(rows)
// npm run bench passes its own path (the smoke run must not overwrite the figures).
const out =
  process.env.BENCH_EDGE_RESULTS ?? fileURLToPath(new URL('./results/edge.json', import.meta.url))
await mkdir(dirname(out), { recursive: true })
await writeFile(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      commit,
      machine,
      runs: RUNS,
      seconds: SECONDS,
      notes: [LIFTED_NOTE],
      rows,
    },
    null,
    2,
  ) + '\n',
)
