/**
 * 1. Authenticated handshakes per second over websocket, a fresh token per
 * connection: edgegate vs plain Socket.IO (no auth, the ceiling) vs
 * socketio-jwt (handshake mode, token in the query) vs a tutorial `io.use` +
 * jsonwebtoken.verify (token in auth). Each handshake connects, waits for
 * CONNECT, and closes. Within a run the variants take turns in short
 * slices, so a noisy neighbour slows them all alike.
 */
import { rotate, serverFlags, type BenchContext, type SectionResult } from '../lib/context.ts'
import { forge } from '../lib/issuer.ts'
import { spawnServer } from '../lib/procs.ts'
import { ConnectRefused, connectSio, nextLocalAddress } from '../lib/sio-client.ts'
import { figure } from '../lib/stats.ts'

const VARIANTS = ['edgegate', 'plain', 'socketio-jwt', 'tutorial'] as const

export async function benchHandshakes(ctx: BenchContext): Promise<SectionResult> {
  const perSlice = ctx.smoke ? 20 : Number(process.env.HANDSHAKES_PER_SLICE ?? 250)
  const slices = ctx.smoke ? 2 : 8
  const warmup = ctx.smoke ? 10 : 300
  const concurrency = ctx.smoke ? 4 : 32
  const servers = new Map<string, Awaited<ReturnType<typeof spawnServer>>>()
  for (const variant of VARIANTS)
    servers.set(variant, await spawnServer(variant, ctx.serverEnv, serverFlags(ctx, variant)))
  const rates: Record<string, number[]> = {}
  const cpuPer: Record<string, number[]> = {}
  let serial = 0
  // Minted before the clock starts: the load generator's signing is not measured.
  const mint = (n: number) =>
    Array.from({ length: n }, () => {
      const i = ++serial
      return ctx.issuer.mint({ sub: `hs-u${i}`, sid: `hs-s${i}` })
    })
  try {
    // Each authenticating variant must refuse a token whose signature does not verify.
    for (const variant of VARIANTS) {
      const refused = await refuses(servers.get(variant)!.url, variant, forge(mint(1)[0]!))
      if (refused !== (variant !== 'plain'))
        throw new Error(`${variant}: a forged token was ${refused ? 'refused' : 'accepted'}`)
    }
    for (const variant of VARIANTS)
      await handshakes(servers.get(variant)!.url, variant, mint(warmup), concurrency)
    for (let run = 0; run < ctx.runs; run++) {
      const total = Object.fromEntries(VARIANTS.map((v) => [v, { done: 0, ms: 0, cpuUs: 0 }]))
      for (let slice = 0; slice < slices; slice++) {
        for (const variant of rotate(VARIANTS, run + slice)) {
          const { url, child } = servers.get(variant)!
          const tokens = mint(perSlice)
          const cpuBefore = await child.call<number>('cpu')
          const { done, ms } = await handshakes(url, variant, tokens, concurrency)
          // The server's CPU time per handshake is robust to neighbours that slow the wall clock.
          total[variant]!.cpuUs += (await child.call<number>('cpu')) - cpuBefore
          total[variant]!.done += done
          total[variant]!.ms += ms
        }
      }
      for (const variant of VARIANTS) {
        const { done, ms, cpuUs } = total[variant]!
        ;(rates[variant] ??= []).push((done / ms) * 1000)
        ;(cpuPer[variant] ??= []).push(cpuUs / done)
        ctx.log(
          `  run ${run + 1} ${variant}: ${Math.round((done / ms) * 1000)} handshakes/s (${done} in ${Math.round(ms)} ms), ` +
            `server CPU ${Math.round(cpuUs / done)} µs each`,
        )
      }
    }
  } finally {
    for (const { child } of servers.values()) await child.stop()
  }
  return {
    figures: Object.fromEntries([
      ...Object.entries(rates).map(([k, xs]) => [k, figure(xs)]),
      ...Object.entries(cpuPer).map(([k, xs]) => [`${k} cpu`, figure(xs)]),
    ]),
    config: { handshakesPerRun: perSlice * slices, slices, warmup, concurrency },
    notes: [
      'handshakes: websocket transport, a fresh ES256 token per connection (minted before the clock starts); connect, CONNECT, close; ' +
        `${concurrency} in flight; each variant first shown to refuse a forged signature`,
    ],
  }
}

/** Whether the server refuses a handshake with `token`. */
async function refuses(url: string, variant: string, token: string): Promise<boolean> {
  try {
    ;(
      await connectSio(url, variant === 'socketio-jwt' ? { query: { token } } : { auth: { token } })
    ).close()
    return false
  } catch (err) {
    if (err instanceof ConnectRefused) return true
    throw err
  }
}

/** Handshake with each token (connect, CONNECT, close), `concurrency` at a time. */
export async function handshakes(url: string, variant: string, tokens: string[], concurrency: number) {
  const started = performance.now()
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++]!
      const client = await connectSio(url, {
        ...(variant === 'socketio-jwt' ? { query: { token } } : { auth: { token } }),
        localAddress: nextLocalAddress(),
      })
      client.close()
      done++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { done, ms: performance.now() - started }
}
