/**
 * 5. The edge under Miniflare: runs test/bench/edge.ts (`npm run
 * bench:edge`) as a child process and reads its results file.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { BenchContext, SectionResult } from '../lib/context.ts'
import { figure } from '../lib/stats.ts'

/** The edge bench's time limit, ms (wrangler dev's start is most of it in a smoke run). */
const EDGE_TIMEOUT_MS = 300_000

export async function benchEdge(ctx: BenchContext, resultsFile: string): Promise<SectionResult> {
  const env = ctx.smoke
    ? { RUNS: '1', SECONDS: '1', LOGINS: '2' }
    : { RUNS: String(ctx.runs), SECONDS: process.env.EDGE_SECONDS ?? '3', LOGINS: '20' }
  const child = spawn(
    process.execPath,
    ['--no-warnings', fileURLToPath(new URL('../edge.ts', import.meta.url))],
    {
      env: { ...process.env, ...env, BENCH_EDGE_RESULTS: resultsFile },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  )
  const timer = setTimeout(() => child.kill('SIGTERM'), EDGE_TIMEOUT_MS)
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
  clearTimeout(timer)
  if (code !== 0) throw new Error(`test/bench/edge.ts exited with ${signal ?? code}`)
  const { rows, notes } = JSON.parse(await readFile(resultsFile, 'utf8')) as {
    rows: { name: string; runs: number[] }[]
    notes: string[]
  }
  return {
    figures: Object.fromEntries(rows.map((row) => [row.name, figure(row.runs)])),
    config: { ...env, resultsFile },
    notes,
  }
}
