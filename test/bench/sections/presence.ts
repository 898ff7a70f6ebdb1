/**
 * Presence at scale (docs/presence.md): PRESENCE_SOCKETS sockets (5,000)
 * of distinct users join one room within a few seconds, then
 * PRESENCE_RECONNECTS (1,000) of them reconnect at once. edgegate's
 * presence (net batches, at most one per room per second) against the
 * hand-rolled way that broadcasts every join and leave to the room: the
 * messages the clients received, the server's CPU time, and its event-loop
 * lag over each phase. Not in the smoke run except a tiny variant.
 */
import type { BenchContext, SectionResult } from '../lib/context.ts'
import { serverFlags, sleep } from '../lib/context.ts'
import { spawnServer } from '../lib/procs.ts'
import { connectSio, nextLocalAddress, type SioClient } from '../lib/sio-client.ts'
import { figure } from '../lib/stats.ts'

const VARIANTS = ['presence', 'presence-naive'] as const
/** How long with no message before a phase counts as settled, ms. */
const QUIET_MS = 2500
/** Connections opened at once. */
const CONCURRENCY = 250

interface Phase {
  messages: number
  /** Handshakes that failed (timed out, or closed by an overloaded server). */
  failed: number
  /** Connections the server closed during the phase (e.g. as slow consumers). */
  dropped: number
  cpuMs: number
  lagP99Ms: number
  lagMaxMs: number
  seconds: number
}

/** Run the section; figures per variant and phase. */
export async function benchPresence(ctx: BenchContext): Promise<SectionResult> {
  const sockets = ctx.smoke ? 100 : Number(process.env.PRESENCE_SOCKETS ?? 5000)
  const reconnects = ctx.smoke ? 20 : Number(process.env.PRESENCE_RECONNECTS ?? 1000)
  const mint = ctx.issuer.mint
  const runs: Record<string, Phase[]> = {}
  for (let run = 0; run < (ctx.smoke ? 1 : Math.min(ctx.runs, 1)); run++) {
    for (const variant of VARIANTS) {
      const { child, url } = await spawnServer(variant, ctx.serverEnv, serverFlags(ctx, variant))
      let received = 0
      let failed = 0
      let dropped = 0
      let lastAt = performance.now()
      const onEvent = (_c: SioClient, name: string) => {
        if (name === 'rt:presence' || name.startsWith('presence:')) {
          received++
          lastAt = performance.now()
        }
      }
      const closing = new Set<SioClient>()
      const open = (i: number): Promise<SioClient | undefined> => {
        let client: SioClient | undefined
        return connectSio(url, {
          auth: { token: mint({ sub: `user-${i}`, sid: `s-${i}-${Math.random()}` }) },
          localAddress: nextLocalAddress(),
          onEvent,
          onClose: () => {
            if (client && !closing.has(client)) dropped++
          },
          timeoutMs: 60_000,
        }).then(
          (c) => (client = c),
          () => void failed++,
        )
      }
      const phase = async (name: string, work: () => Promise<void>): Promise<Phase> => {
        received = 0
        failed = 0
        dropped = 0
        const cpu0 = await child.call<number>('cpu')
        await child.call('loop-start')
        const t0 = performance.now()
        await work()
        lastAt = performance.now()
        while (performance.now() - lastAt < QUIET_MS) await sleep(200)
        const loop = await child.call<{ p99Ms: number; maxMs: number }>('loop-stop')
        const cpuMs = ((await child.call<number>('cpu')) - cpu0) / 1000
        const result = {
          messages: received,
          failed,
          dropped,
          cpuMs,
          lagP99Ms: loop.p99Ms,
          lagMaxMs: loop.maxMs,
          seconds: (performance.now() - t0 - QUIET_MS) / 1000,
        }
        ctx.log(`${variant} ${name}: ${JSON.stringify(result)}`)
        ;(runs[`${variant}/${name}`] ??= []).push(result)
        return result
      }
      const clients: (SioClient | undefined)[] = new Array(sockets)
      try {
        await phase('join', async () => {
          for (let i = 0; i < sockets; i += CONCURRENCY) {
            const batch = Array.from(
              { length: Math.min(CONCURRENCY, sockets - i) },
              (_, k) => i + k,
            )
            await Promise.all(batch.map(async (j) => (clients[j] = await open(j))))
          }
        })
        await phase('reconnect', async () => {
          for (let j = 0; j < reconnects; j++) {
            const c = clients[j]
            if (c) closing.add(c)
            c?.close()
          }
          await Promise.all(
            Array.from({ length: reconnects }, async (_, j) => (clients[j] = await open(j))),
          )
        })
      } finally {
        for (const c of clients) {
          if (c) closing.add(c)
          c?.close()
        }
        await child.stop()
      }
    }
  }
  const figures: SectionResult['figures'] = {}
  for (const [key, phases] of Object.entries(runs)) {
    for (const field of [
      'messages',
      'failed',
      'dropped',
      'cpuMs',
      'lagP99Ms',
      'lagMaxMs',
      'seconds',
    ] as const) {
      figures[`${key}/${field}`] = figure(phases.map((p) => p[field]))
    }
  }
  return {
    figures,
    config: { sockets, reconnects, concurrency: CONCURRENCY, quietMs: QUIET_MS },
    notes: [
      'presence: messages are rt:presence batches (edgegate) or presence:joined/left broadcasts (naive) received by all clients; CPU is the server process over the phase',
    ],
  }
}
