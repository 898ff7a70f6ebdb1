/**
 * 3. Memory per connected authenticated socket: the server's RSS (after
 * gc) with N idle sockets minus its RSS before them, divided by N; edgegate
 * vs plain Socket.IO. Each run starts fresh server processes; the sockets
 * come from a separate holder process, one token (distinct sub) each.
 */
import {
  rotate,
  serverFlags,
  sleep,
  type BenchContext,
  type SectionResult,
} from '../lib/context.ts'
import { spawnChild, spawnServer } from '../lib/procs.ts'
import { figure } from '../lib/stats.ts'
import type { ConnectCommand } from '../holder.ts'

const VARIANTS = ['edgegate', 'plain'] as const

interface Mem {
  rss: number
  heapUsed: number
  gc: boolean
}

export async function benchMemory(ctx: BenchContext): Promise<SectionResult> {
  const sockets = ctx.smoke ? 50 : Number(process.env.MEMORY_SOCKETS ?? 5000)
  // More than the token verifier's cache holds (1,024 tokens): the bounded
  // cache is full before the measurement, as on any server that has run a while.
  const warmup = ctx.smoke ? 10 : 1100
  const holder = await spawnChild('holder.ts', {
    env: { BENCH_MINT_KEY: JSON.stringify(ctx.issuer.key) },
  })
  const rss: Record<string, number[]> = {}
  const heap: Record<string, number[]> = {}
  let serial = 0
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (const variant of rotate(VARIANTS, run)) {
        const { child, url } = await spawnServer(variant, ctx.serverEnv, serverFlags(ctx, variant))
        try {
          const connect = (count: number): ConnectCommand => ({
            url,
            count,
            concurrency: 32,
            prefix: `mem${++serial}`,
            firstTtlSeconds: 3600,
            spreadSeconds: 0,
            refreshTtlSeconds: 3600,
          })
          // Warm the code paths (and the allocator) first, then measure from there.
          await holder.call('connect', connect(warmup))
          await holder.call('closeAll')
          // Every warm-up socket gone (closing 1,100 takes a while on a busy machine), or the
          // baseline would still hold some of them.
          for (let i = 0; i < 300 && (await child.call<number>('count')) > 0; i++) await sleep(100)
          await sleep(300)
          const before = await child.call<Mem>('mem')
          await holder.call('connect', connect(sockets))
          await sleep(ctx.smoke ? 200 : 1000)
          const open = await child.call<number>('count')
          if (open !== sockets)
            throw new Error(`${variant}: ${open} sockets connected, expected ${sockets}`)
          const after = await child.call<Mem>('mem')
          if (!after.gc) throw new Error('the server has no gc(); it must run with --expose-gc')
          await holder.call('closeAll')
          const kib = (bytes: number) => bytes / 1024 / sockets
          ;(rss[variant] ??= []).push(kib(after.rss - before.rss))
          ;(heap[variant] ??= []).push(kib(after.heapUsed - before.heapUsed))
          ctx.log(
            `  run ${run + 1} ${variant}: ${kib(after.rss - before.rss).toFixed(2)} KiB RSS, ` +
              `${kib(after.heapUsed - before.heapUsed).toFixed(2)} KiB heap per socket`,
          )
        } finally {
          await child.stop()
        }
      }
    }
  } finally {
    await holder.stop()
  }
  const figures: SectionResult['figures'] = {}
  for (const variant of VARIANTS) {
    figures[`${variant} rss`] = figure(rss[variant]!)
    figures[`${variant} heap`] = figure(heap[variant]!)
  }
  return {
    figures,
    config: { sockets, warmup },
    notes: [
      `memory: ${warmup} sockets connected and closed first, so the verifier's bounded cache (1,024 tokens) is full before the measurement`,
      'connection limits raised for the bench: { ratePerSecond: 1e6, burst: 1e6, perAddress: 1e6, perUser: 1e6 }',
    ],
  }
}
