/**
 * The benchmark harness: edgegate side by side with plain Socket.IO and the
 * packages users pick today, each server variant a child process on
 * 127.0.0.1, the load from this process (or a holder child), every
 * comparison interleaved within each run, each figure the median of RUNS
 * runs with its spread.
 *
 *   npm run bench                 (RUNS=3)
 *   npm run bench:smoke           (or BENCH_SMOKE=1 npm run bench: one run, seconds per section,
 *                                  tiny counts; every section runs, and any that dies fails the
 *                                  run; asserts nothing about speed)
 *
 * Environment: RUNS, BENCH_ONLY=handshakes,messages,fanout,memory,expiry,edge,cluster,presence,api,lifecycle (a subset),
 * BENCH_CPU_PROF=<variant> (start that server variant with --cpu-prof and
 * summarize its profile), HANDSHAKES_PER_SLICE, MESSAGE_SLICE_MS, FANOUT_SOCKETS, FANOUT_SLICE_MS, MEMORY_SOCKETS,
 * EXPIRY_SOCKETS, EXPIRY_WINDOW_SECONDS, EDGE_SECONDS, PRESENCE_SOCKETS, PRESENCE_RECONNECTS,
 * LIFECYCLE_USERS, LIFECYCLE_SHAPES.
 *
 * The edge and cluster sections run test/bench/edge.ts and test/bench/cluster.ts.
 * Results: test/bench/results/bench.json (bench-smoke.json in smoke mode), with
 * edge.json and cluster.json written by those two.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { BenchContext, SectionResult } from './lib/context.ts'
import { startBenchIssuer } from './lib/issuer.ts'
import { summarizeProfile } from './lib/profile.ts'
import { commit, machine, renderTable } from './lib/stats.ts'
import { buildRows } from './lib/targets.ts'
import { benchServerApi } from './sections/api.ts'
import { benchCluster } from './sections/cluster.ts'
import { benchEdge } from './sections/edge.ts'
import { benchExpiry } from './sections/expiry.ts'
import { benchFanout } from './sections/fanout.ts'
import { benchHandshakes } from './sections/handshakes.ts'
import { benchLifecycle } from './sections/lifecycle.ts'
import { benchMemory } from './sections/memory.ts'
import { benchMessages } from './sections/messages.ts'
import { benchPresence } from './sections/presence.ts'

const SECTIONS = [
  'handshakes',
  'messages',
  'fanout',
  'memory',
  'expiry',
  'edge',
  'cluster',
  'presence',
  'api',
  'lifecycle',
] as const
const smoke = process.env.BENCH_SMOKE === '1' || process.argv.includes('--smoke')
const runs = Number(process.env.RUNS ?? (smoke ? 1 : 3))
if (!Number.isInteger(runs) || runs < 1) throw new TypeError('RUNS must be a positive integer')
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim())
for (const name of only ?? [])
  if (!SECTIONS.includes(name as never)) throw new TypeError(`BENCH_ONLY: unknown section ${name}`)
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const profileDir = `${resultsDir}profiles`
await mkdir(resultsDir, { recursive: true })

const started = performance.now()
const loadAtStart = loadavg()
const issuer = await startBenchIssuer()
const ctx: BenchContext = {
  smoke,
  runs,
  issuer,
  serverEnv: {
    BENCH_ISSUER: issuer.url,
    BENCH_JWKS_URL: issuer.jwksUrl,
    BENCH_PUBLIC_PEM: issuer.publicPem,
  },
  cpuProfVariant: process.env.BENCH_CPU_PROF,
  profileDir,
  log: (line) => console.log(line),
}
if (ctx.cpuProfVariant) await rm(profileDir, { recursive: true, force: true })

const results: Record<string, SectionResult> = {}
const timings: Record<string, number> = {}
const sections: Record<(typeof SECTIONS)[number], () => Promise<SectionResult>> = {
  handshakes: () => benchHandshakes(ctx),
  messages: () => benchMessages(ctx),
  fanout: () => benchFanout(ctx),
  memory: () => benchMemory(ctx),
  expiry: () => benchExpiry(ctx),
  edge: () => benchEdge(ctx, `${resultsDir}${smoke ? 'edge-smoke.json' : 'edge.json'}`),
  cluster: () => benchCluster(ctx),
  presence: () => benchPresence(ctx),
  api: () => benchServerApi(ctx),
  lifecycle: () => benchLifecycle(ctx),
}
console.log(
  `edgegate bench${smoke ? ' (smoke: tiny counts, figures mean nothing)' : ''}, ${runs} run(s) per figure`,
)
// A section that dies does not stop the others: each one runs, and the run fails at the end.
const failed: string[] = []
try {
  for (const name of SECTIONS) {
    if (only && !only.includes(name)) continue
    console.log(`\n## ${name}`)
    const t = performance.now()
    try {
      results[name] = await sections[name]()
    } catch (err) {
      failed.push(name)
      console.error(`section ${name} failed:`, err)
    }
    timings[name] = Math.round((performance.now() - t) / 1000)
  }
} finally {
  await issuer.close()
}

const rows = buildRows(results)
const { text, outcomes } = renderTable(rows)
const notes = [
  ...Object.values(results).flatMap((r) => r.notes ?? []),
  'load generator: a minimal Socket.IO v4 client over ws (test/bench/lib/sio-client.ts), the same for every variant',
  'ratios are medians of per-run ratios; within each run the variants take turns in short slices',
  "server CPU: the server process's user+system time over the work it did, robust to neighbours that slow the wall clock",
  `load average ${loadAtStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')} at the end (${machine().cores} cores)`,
]
console.log(`\n${text}\n`)
for (const note of new Set(notes)) console.log(`- ${note}`)

const m = machine()
const out = `${resultsDir}${smoke ? 'bench-smoke.json' : 'bench.json'}`
const report = {
  date: new Date().toISOString(),
  commit: commit(),
  machine: m,
  smoke,
  runs,
  seconds: Math.round((performance.now() - started) / 1000),
  sectionSeconds: timings,
  failedSections: failed,
  notes: [...new Set(notes)],
  table: rows.map((row, i) => ({
    section: row.section,
    figure: row.figure,
    unit: row.unit,
    value: row.value,
    peer: row.peer,
    peerValue: row.peerValue,
    ratio: row.ratio,
    ratioKind: row.ratio ? (row.difference ? 'difference' : 'quotient') : undefined,
    target: row.target?.text,
    outcome: outcomes[i],
    note: row.note,
  })),
  sections: results,
}
await writeFile(out, JSON.stringify(report, null, 2) + '\n')
console.log(
  `\n${m.cores} × ${m.cpuModel}, Node ${m.node}, commit ${report.commit}; ${report.seconds} s; written to ${out}`,
)

if (failed.length > 0) {
  console.error(`\nbench: ${failed.length} section(s) failed: ${failed.join(', ')}`)
  process.exitCode = 1
}

if (ctx.cpuProfVariant) {
  for (const file of (await readdir(profileDir).catch(() => [])).filter((f) =>
    f.endsWith('.cpuprofile'),
  )) {
    console.log(`\nCPU profile of ${ctx.cpuProfVariant}: ${profileDir}/${file}`)
    const windows = Object.values(results).flatMap((r) => r.profileWindows ?? [])
    console.log(await summarizeProfile(`${profileDir}/${file}`, 25, windows))
  }
}
