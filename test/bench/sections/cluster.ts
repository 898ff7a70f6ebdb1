/**
 * 6. Revocation latency across three realtime nodes on Redis: runs
 * test/bench/cluster.ts (`npm run bench:cluster`) as a child process and
 * reads its results file. Its figure is p50/p99 over LOGOUTS logouts in one
 * run (each logout is one sample), not a median of runs.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { BenchContext, SectionResult } from '../lib/context.ts'
import { figure } from '../lib/stats.ts'

/** The cluster bench's time limit, ms. */
const CLUSTER_TIMEOUT_MS = 300_000

interface ClusterResults {
  revocation: { logouts: number; p50_ms: number; p99_ms: number; max_ms: number; method: string }
  broadcast: {
    clients: number
    messages: number
    streams_msgs_per_s: number[]
    pubsub_msgs_per_s: number[]
  }
}

export async function benchCluster(ctx: BenchContext): Promise<SectionResult> {
  const script = fileURLToPath(new URL('../cluster.ts', import.meta.url))
  const child = spawn(process.execPath, ['--no-warnings', script], {
    env: { ...process.env, BENCH_SMOKE: ctx.smoke ? '1' : '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const timer = setTimeout(() => child.kill('SIGTERM'), CLUSTER_TIMEOUT_MS)
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
  clearTimeout(timer)
  if (code !== 0) throw new Error(`test/bench/cluster.ts exited with ${signal ?? code}`)
  const file = fileURLToPath(
    new URL(`../results/cluster${ctx.smoke ? '-smoke' : ''}.json`, import.meta.url),
  )
  const { revocation, broadcast } = JSON.parse(await readFile(file, 'utf8')) as ClusterResults
  const one = (x: number) => figure([x])
  return {
    figures: {
      'revocation p50': one(revocation.p50_ms),
      'revocation p99': one(revocation.p99_ms),
      'revocation max': one(revocation.max_ms),
      'broadcast streams': figure(broadcast.streams_msgs_per_s),
      'broadcast pubsub': figure(broadcast.pubsub_msgs_per_s),
    },
    config: {
      logouts: revocation.logouts,
      method: revocation.method,
      broadcast,
      resultsFile: file,
    },
    notes: [
      `revocation: ${revocation.method}; p50/p99 over ${revocation.logouts} logouts in one run`,
    ],
  }
}
