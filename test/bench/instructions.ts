/**
 * Instructions per handshake, counted by valgrind's callgrind: the one
 * connection-path figure that does not move with the machine's load.
 *
 *   node test/bench/instructions.ts [handshakes per case] [variant:tokens ...]
 *
 * e.g. `node test/bench/instructions.ts 400 plain:recent edgegate:recent`.
 * Each server variant runs under callgrind with instrumentation off (start-up
 * and a warmup run at its uninstrumented speed, so V8 tiers the code up as
 * it would natively); for each case the counters are switched on, the
 * handshakes run (connect, CONNECT, close; the bench's client, in this
 * process), and the count is dumped. User-space instructions of every thread
 * of the server (V8's compiler and GC helpers too); the kernel's work is not
 * in it. Needs valgrind (`apt install valgrind`).
 */
import { execFileSync } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { handshakeTokens, startBenchIssuer, type HandshakeTokens } from './lib/issuer.ts'
import { spawnServer } from './lib/procs.ts'
import { median } from './lib/stats.ts'
import { handshakes } from './sections/handshakes.ts'

const count = Number(process.argv[2] ?? 400)
const cases = (
  process.argv.length > 3
    ? process.argv.slice(3)
    : ['plain:recent', 'edgegate:recent', 'plain:fresh', 'edgegate:fresh', 'socketio-jwt:fresh']
).map((spec) => {
  const [variant, tokens = 'fresh'] = spec.split(':') as [string, HandshakeTokens]
  return { spec, variant, tokens }
})
// Well within the callgrind slow-down: a handshake takes tens of ms there.
const CONCURRENCY = 8
// Generous: the first instrumented handshakes wait while callgrind translates the code again.
const HANDSHAKE_TIMEOUT_MS = 120_000
// Handshakes per case before counting: V8 compiles the once-per-handshake functions
// only after several thousand (as test/bench/sections/handshakes.ts warms up).
const WARMUP = Number(process.env.WARMUP ?? 6000)
// Counted blocks per case; the figure is their median.
const BLOCKS = Number(process.env.BLOCKS ?? 3)
const fmt = (n: number) => Math.round(n).toLocaleString('en')

const dir = mkdtempSync(join(tmpdir(), 'edgegate-callgrind-'))
const wrapper = join(dir, 'node')
writeFileSync(
  wrapper,
  `#!/bin/sh\nexec valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no --callgrind-out-file=${dir}/cg.%p ` +
    `${JSON.stringify(process.execPath)} "$@" 2>>${dir}/valgrind.log\n`,
)
chmodSync(wrapper, 0o755)

const issuer = await startBenchIssuer()
const env = {
  BENCH_ISSUER: issuer.url,
  BENCH_JWKS_URL: issuer.jwksUrl,
  BENCH_PUBLIC_PEM: issuer.publicPem,
}
// Recently seen tokens: one pool, shown to the server in the warmup.
const POOL_SIZE = 100
const { tokens } = handshakeTokens(issuer, 'ins', POOL_SIZE)

/**
 * The instructions counted since the last zeroing, from a fresh dump of
 * `pid`: the main thread's (JavaScript, and the GC work done on it) and every
 * thread's (V8's optimizing compiler and GC helpers too).
 */
function dumpTotals(pid: number, label: string): { main: number; all: number } {
  const before = new Set(readdirSync(dir))
  execFileSync('callgrind_control', ['--dump', String(pid)], { stdio: 'ignore' })
  // --separate-threads: one file per thread, `cg.<pid>.<dump>-<thread>`; thread 01 is the main one.
  const files = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`) && !before.has(f))
  if (files.length === 0) throw new Error('callgrind wrote no dump')
  let main = 0
  let all = 0
  for (const file of files) {
    const text = readFileSync(join(dir, file), 'utf8')
    const total = /^(?:summary|totals): (\d+)/m.exec(text)
    if (!total) throw new Error(`no total in ${file}`)
    all += Number(total[1])
    if (file.endsWith('-01')) main = Number(total[1])
    // BENCH_CALLGRIND_OUT=dir keeps each case's dumps, a file per thread, for callgrind_annotate.
    const out = process.env.BENCH_CALLGRIND_OUT
    if (out) copyFileSync(join(dir, file), join(out, `${label}-thread${file.slice(-2)}.callgrind`))
  }
  return { main, all }
}

const rows: { spec: string; main: number; all: number }[] = []
try {
  for (const variant of [...new Set(cases.map((c) => c.variant))]) {
    const { child, url } = await spawnServer(variant, env, [], {
      execPath: wrapper,
      startTimeoutMs: 300_000,
    })
    const pid = child.process.pid!
    try {
      const mine = cases.filter((c) => c.variant === variant)
      for (const { tokens: kind } of mine)
        await handshakes(url, variant, tokens(kind, WARMUP), CONCURRENCY, HANDSHAKE_TIMEOUT_MS)
      console.log(`${variant}: warm; counting`)
      execFileSync('callgrind_control', ['--instr=on', String(pid)], { stdio: 'ignore' })
      for (const { spec, tokens: kind } of mine) {
        // Handshakes first, so the instrumented code is translated before the count, and
        // the pool of recently seen tokens is seen again after another case's warmup.
        await handshakes(
          url,
          variant,
          tokens(kind, 2 * POOL_SIZE),
          CONCURRENCY,
          HANDSHAKE_TIMEOUT_MS,
        )
        const blocks: { main: number; all: number }[] = []
        for (let b = 0; b < BLOCKS; b++) {
          const list = tokens(kind, count)
          execFileSync('callgrind_control', ['--zero', String(pid)], { stdio: 'ignore' })
          await handshakes(url, variant, list, CONCURRENCY, HANDSHAKE_TIMEOUT_MS)
          const totals = dumpTotals(pid, `${spec.replace(':', '-')}-${b + 1}`)
          blocks.push({ main: totals.main / count, all: totals.all / count })
        }
        const row = {
          spec,
          main: median(blocks.map((b) => b.main)),
          all: median(blocks.map((b) => b.all)),
        }
        rows.push(row)
        console.log(`  blocks (main thread): ${blocks.map((b) => fmt(b.main)).join(', ')}`)
        console.log(
          `${spec}: ${fmt(row.main)} instructions/handshake on the main thread, ${fmt(row.all)} on all threads`,
        )
      }
    } finally {
      await child.stop(60_000)
    }
  }
} finally {
  await issuer.close()
  rmSync(dir, { recursive: true, force: true })
}
const base = (variant: string, kind: string) => rows.find((r) => r.spec === `${variant}:${kind}`)
for (const row of rows) {
  const [variant, kind] = row.spec.split(':')
  const plain = base('plain', kind!)
  if (plain && variant !== 'plain')
    console.log(
      `${row.spec} / plain:${kind}: ${(row.main / plain.main).toFixed(3)}× main thread, ` +
        `${(row.all / plain.all).toFixed(3)}× all threads`,
    )
}
