/**
 * 4. Expiry at scale: edgegate with N sockets whose tokens expire
 * staggered and are refreshed in-band (`rt:expiring` → `rt:auth` with a
 * fresh token of the same sub and sid). The server process reports its
 * event-loop delay p99 (monitorEventLoopDelay) and CPU over each window,
 * next to the delay an idle process sees meanwhile (the machine's share).
 * N is 20,000 unless the server's file-descriptor limit is lower. First
 * the tokens live as long as the edge's default access token (refreshed 30 s
 * before `exp`, on the server's `rt:expiring`), so the refresh rate is what
 * N clients of a default deployment cause, about N / 270 per second; then,
 * as a stress phase, 60 s tokens (about N / 54 per second).
 */
import { readFileSync } from 'node:fs'
import {
  DEFAULT_ACCESS_TOKEN_TTL_SECONDS,
  EXPIRING_NOTICE_SECONDS,
} from '../../../shared/constants.ts'
import { serverFlags, sleep, type BenchContext, type SectionResult } from '../lib/context.ts'
import { spawnChild, spawnServer, type Child } from '../lib/procs.ts'
import type { ProfileWindow } from '../lib/profile.ts'
import { figure } from '../lib/stats.ts'
import type { ConnectCommand } from '../holder.ts'

/** Sockets asked for by the issue. */
const TARGET_SOCKETS = 20_000
/** Sockets per holder process (each has its own descriptor limit). */
const PER_HOLDER = 10_000
/** Descriptors left free in the server for everything else. */
const FD_HEADROOM = 200

interface Holder {
  open: number
  refreshed: number
  refreshFailed: number
  lost: number
  lastFailure: string
}

/** One population of sockets: how long its tokens live. */
interface Phase {
  name: string
  label: string
  lifetimes: Pick<ConnectCommand, 'firstTtlSeconds' | 'spreadSeconds' | 'refreshTtlSeconds'>
}

/**
 * The phases: tokens of the edge's default lifetime (the first ones expire spread over one
 * refresh cycle, issued a lifetime before, so the steady-state rate starts at once), then a
 * stress phase with 60 s tokens, about four times the refresh rate.
 */
function phases(smoke: boolean): Phase[] {
  // `lead` is the notice's lead for a token of `ttl`: min(EXPIRING_NOTICE_SECONDS, ttl / 10).
  const phase = (name: string, ttl: number, lead: number): Phase => ({
    name,
    label: `${ttl} s tokens`,
    lifetimes: { firstTtlSeconds: lead + 1, spreadSeconds: ttl - lead, refreshTtlSeconds: ttl },
  })
  const ttl = DEFAULT_ACCESS_TOKEN_TTL_SECONDS
  return smoke
    ? [phase('default', 6, 1), phase('stress', 4, 1)]
    : [phase('default', ttl, Math.min(EXPIRING_NOTICE_SECONDS, ttl / 10)), phase('stress', 60, 6)]
}

export async function benchExpiry(ctx: BenchContext): Promise<SectionResult> {
  // EXPIRY_VARIANT=plain runs the same sockets against plain Socket.IO (no refreshes), for comparison.
  const variant = process.env.EXPIRY_VARIANT ?? 'edgegate'
  const { child: server, url } = await spawnServer(
    variant,
    ctx.serverEnv,
    serverFlags(ctx, variant),
  )
  const probe = await spawnChild('probe.ts')
  const holders: Child[] = []
  const notes: string[] = []
  const figures: SectionResult['figures'] = {}
  const config: Record<string, unknown> = { variant }
  const windows: ProfileWindow[] = []
  try {
    const limit = openFilesLimit()
    const fit = limit - (await server.call<number>('fds')) - FD_HEADROOM
    const wanted = Number(process.env.EXPIRY_SOCKETS ?? TARGET_SOCKETS)
    const sockets = ctx.smoke ? 100 : Math.min(wanted, fit)
    if (!ctx.smoke && sockets < TARGET_SOCKETS) {
      notes.push(
        `expiry: ${sockets} sockets, not ${TARGET_SOCKETS}: the server's open-files limit is ${limit} (ulimit -n)`,
      )
    }
    const windowSeconds = ctx.smoke ? 2 : Number(process.env.EXPIRY_WINDOW_SECONDS ?? 10)
    const perHolder = Math.min(PER_HOLDER, Math.ceil(sockets / Math.ceil(sockets / PER_HOLDER)))
    const env = { BENCH_MINT_KEY: JSON.stringify(ctx.issuer.key) }
    for (let left = sockets; left > 0; left -= perHolder)
      holders.push(await spawnChild('holder.ts', { env }))
    Object.assign(config, { sockets, fdLimit: limit, windowSeconds })

    for (const phase of phases(ctx.smoke)) {
      ctx.log(`  ${phase.label}:`)
      const started = performance.now()
      await Promise.all(
        holders.map((holder, h) => {
          const command: ConnectCommand = {
            url,
            count: Math.min(perHolder, sockets - h * perHolder),
            concurrency: 32,
            prefix: `exp-${phase.name}${h}`,
            ...phase.lifetimes,
          }
          return holder.call('connect', command, 300_000)
        }),
      )
      const connectSeconds = (performance.now() - started) / 1000
      ctx.log(`  ${sockets} sockets connected in ${connectSeconds.toFixed(1)} s`)
      await sleep(ctx.smoke ? 500 : 2000)

      const lag: number[] = []
      const idleLag: number[] = []
      const cpu: number[] = []
      const refreshRate: number[] = []
      const first = await totals(holders)
      let before = first
      for (let run = 0; run < ctx.runs; run++) {
        await Promise.all([server.call('loop-start'), probe.call('loop-start')])
        const t = performance.now()
        await sleep(windowSeconds * 1000)
        const [loop, idle] = await Promise.all([
          server.call<LoopStats>('loop-stop'),
          probe.call<{ p99Ms: number }>('loop-stop'),
        ])
        const after = await totals(holders)
        const rate = ((after.refreshed - before.refreshed) / (performance.now() - t)) * 1000
        before = after
        lag.push(loop.p99Ms)
        idleLag.push(idle.p99Ms)
        cpu.push(loop.cpuPercent)
        refreshRate.push(rate)
        windows.push(loop.window)
        ctx.log(
          `  window ${run + 1}: event-loop delay p99 ${loop.p99Ms.toFixed(1)} ms (max ${loop.maxMs.toFixed(1)}), ` +
            `server CPU ${loop.cpuPercent.toFixed(0)}%, ${Math.round(rate)} refreshes/s, ${after.open} open; ` +
            `an idle process's p99 ${idle.p99Ms.toFixed(1)} ms`,
        )
      }
      const end = await totals(holders)
      if (end.refreshFailed > 0 || end.lost > 0) {
        throw new Error(
          `expiry: ${end.refreshFailed} refreshes refused, ${end.lost} sockets lost (${end.lastFailure})`,
        )
      }
      if (!ctx.smoke && end.refreshed === first.refreshed && variant === 'edgegate')
        throw new Error('expiry: no socket refreshed during the windows')
      Object.assign(figures, {
        [`${phase.name} lag p99`]: figure(lag),
        [`${phase.name} idle lag p99`]: figure(idleLag),
        [`${phase.name} cpu`]: figure(cpu),
        [`${phase.name} refreshes/s`]: figure(refreshRate),
      })
      config[phase.name] = { label: phase.label, ...phase.lifetimes, connectSeconds }
      for (const holder of holders) await holder.call('closeAll')
      for (let i = 0; i < 300 && (await server.call<number>('count')) > 0; i++) await sleep(100)
    }
    return { figures, config, profileWindows: windows, notes }
  } finally {
    for (const holder of holders) await holder.stop(30_000)
    await probe.stop()
    await server.stop(30_000)
  }
}

interface LoopStats {
  p99Ms: number
  maxMs: number
  cpuPercent: number
  window: ProfileWindow
}

async function totals(holders: Child[]): Promise<Holder> {
  const all = await Promise.all(holders.map((h) => h.call<Holder>('stats')))
  return all.reduce((a, b) => ({
    open: a.open + b.open,
    refreshed: a.refreshed + b.refreshed,
    refreshFailed: a.refreshFailed + b.refreshFailed,
    lost: a.lost + b.lost,
    lastFailure: a.lastFailure || b.lastFailure,
  }))
}

/** The soft limit on open files (children inherit it). */
function openFilesLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = Number(line?.split(/\s{2,}/)[1])
    if (Number.isFinite(soft)) return soft
  } catch {
    // not Linux: fall through
  }
  return 1024
}
