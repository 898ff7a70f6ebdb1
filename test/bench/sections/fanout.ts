/**
 * 8. Room fan-out: one sender, a room of N sockets (1,000), each `fanout`
 * message broadcast by the server to the room as `fan`; messages delivered
 * per second (broadcasts every receiver got × N) and the server's CPU per
 * broadcast. edgegate (the registered event, its pipeline and
 * `io.to(room).emit` in the handler) vs plain Socket.IO (`socket.on` and the
 * same emit) vs plain with edgegate's write coalescing. The receivers are
 * minimal Socket.IO clients in a holder process, each checking the sequence
 * of what it gets; the sender keeps a window of broadcasts outstanding, so
 * the figure is the capacity of the whole path, not one round trip. Within a
 * run the variants take turns in short slices.
 */
import { rotate, serverFlags, type BenchContext, type SectionResult } from '../lib/context.ts'
import type { FanoutCommand, FanoutResult } from '../lib/fanout.ts'
import { spawnChild, spawnServer } from '../lib/procs.ts'
import { figure } from '../lib/stats.ts'
import type { ConnectCommand, FanoutSenderCommand } from '../holder.ts'

const VARIANTS = ['edgegate', 'plain', 'plain-coalescing'] as const

export async function benchFanout(ctx: BenchContext): Promise<SectionResult> {
  const receivers = ctx.smoke ? 50 : Number(process.env.FANOUT_SOCKETS ?? 1000)
  const sliceMs = ctx.smoke ? 200 : Number(process.env.FANOUT_SLICE_MS ?? 500)
  const slices = ctx.smoke ? 2 : 6
  const warmupMs = ctx.smoke ? 200 : 1000
  const window = 4
  const servers = new Map<string, Awaited<ReturnType<typeof spawnServer>>>()
  for (const variant of VARIANTS)
    servers.set(variant, await spawnServer(variant, ctx.serverEnv, serverFlags(ctx, variant)))
  const holder = await spawnChild('holder.ts', {
    env: { BENCH_MINT_KEY: JSON.stringify(ctx.issuer.key) },
  })
  const rates: Record<string, number[]> = {}
  const cpuPer: Record<string, number[]> = {}
  const fanout = (group: string, ms: number) =>
    holder.call<FanoutResult>('fanout', { group, ms, window } satisfies FanoutCommand)
  try {
    for (const variant of VARIANTS) {
      const { url, child } = servers.get(variant)!
      await holder.call('connect', {
        url,
        count: receivers,
        concurrency: 32,
        prefix: `fan-${variant}`,
        firstTtlSeconds: 3600,
        spreadSeconds: 0,
        refreshTtlSeconds: 3600,
        fanoutGroup: variant,
      } satisfies ConnectCommand)
      await holder.call('fanoutSender', {
        url,
        group: variant,
        prefix: `fan-${variant}`,
      } satisfies FanoutSenderCommand)
      const open = await child.call<number>('count')
      if (open !== receivers + 1)
        throw new Error(`${variant}: ${open} sockets connected, expected ${receivers + 1}`)
      await fanout(variant, warmupMs)
    }
    for (let run = 0; run < ctx.runs; run++) {
      const total = Object.fromEntries(
        VARIANTS.map((v) => [v, { delivered: 0, ms: 0, cpuUs: 0, sent: 0 }]),
      )
      for (let slice = 0; slice < slices; slice++) {
        for (const variant of rotate(VARIANTS, run + slice)) {
          const server = servers.get(variant)!.child
          const cpuBefore = await server.call<number>('cpu')
          const result = await fanout(variant, sliceMs)
          // Over every broadcast of the slice, the drain included.
          total[variant]!.cpuUs += (await server.call<number>('cpu')) - cpuBefore
          total[variant]!.sent += result.sent
          total[variant]!.delivered += result.delivered
          total[variant]!.ms += result.ms
        }
      }
      for (const variant of VARIANTS) {
        const { delivered, ms, cpuUs, sent } = total[variant]!
        const rate = (delivered / ms) * 1000
        ;(rates[variant] ??= []).push(rate)
        ;(cpuPer[`${variant} cpu`] ??= []).push(cpuUs / sent)
        ctx.log(
          `  run ${run + 1} ${variant}: ${Math.round(rate)} deliveries/s, ` +
            `server CPU ${Math.round(cpuUs / sent)} µs per broadcast to ${receivers}`,
        )
      }
    }
  } finally {
    await holder.stop()
    for (const { child } of servers.values()) await child.stop()
  }
  return {
    figures: Object.fromEntries(
      [...Object.entries(rates), ...Object.entries(cpuPer)].map(([k, xs]) => [k, figure(xs)]),
    ),
    config: { receivers, sliceMs, slices, warmupMs, window },
    notes: [
      `fan-out: one sender, a room of ${receivers} receivers in a holder process, ${window} broadcasts outstanding; ` +
        'every receiver checks it gets every broadcast once and in order, and a run with any drop fails',
    ],
  }
}
