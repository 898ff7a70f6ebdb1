/**
 * 1. Authenticated handshakes per second over websocket, a fresh token per
 * connection: edgegate vs plain Socket.IO (no auth, the ceiling) vs
 * socketio-jwt (handshake mode, token in the query) vs a tutorial `io.use` +
 * jsonwebtoken.verify (token in auth); then edgegate and plain reconnecting
 * with recently seen tokens, and with fresh RS256 tokens; and edgegate with
 * fresh DPoP-bound tokens, each with a fresh proof (docs/protocol.md §15:
 * one token verify, one proof verify, one SHA-256, one replay-cache write),
 * against its own bearer handshakes. Each handshake
 * connects, waits for CONNECT, and closes. Within a run the variants take turns in short
 * slices, so a noisy neighbour slows them all alike.
 */
import { rotate, serverFlags, type BenchContext, type SectionResult } from '../lib/context.ts'
import { benchDpopKey } from '../lib/dpop.ts'
import { forge, handshakeTokens, type HandshakeTokens } from '../lib/issuer.ts'
import { spawnServer } from '../lib/procs.ts'
import { ConnectRefused, connectSio, nextLocalAddress } from '../lib/sio-client.ts'
import { figure } from '../lib/stats.ts'

const VARIANTS = ['edgegate', 'plain', 'socketio-jwt', 'tutorial'] as const
type Variant = (typeof VARIANTS)[number]
/** Where a case's tokens come from. */
type Tokens = HandshakeTokens | 'dpop'
/** The server's CPU time so far, µs: the process's and its main thread's (test/bench/server.ts `cpus`). */
type Cpus = { process: number; main: number }
/** A handshake's credentials: a token, or a DPoP-bound token with its proof. */
type Credential = string | { token: string; dpop: string }

/**
 * What is measured: each variant with fresh ES256 tokens; edgegate and plain
 * reconnecting with recently seen tokens (edgegate's verified-token cache:
 * no signature check); edgegate and plain with fresh RS256 tokens. Plain
 * ignores the token, but gets the same ones, so the client's work is alike.
 */
const ALL_CASES: { name: string; variant: Variant; tokens: Tokens }[] = [
  ...VARIANTS.map((variant) => ({ name: variant, variant, tokens: 'fresh' as const })),
  { name: 'edgegate reconnect', variant: 'edgegate', tokens: 'recent' },
  { name: 'plain reconnect', variant: 'plain', tokens: 'recent' },
  { name: 'edgegate rs256', variant: 'edgegate', tokens: 'rs256' },
  { name: 'plain rs256', variant: 'plain', tokens: 'rs256' },
  { name: 'edgegate dpop', variant: 'edgegate', tokens: 'dpop' },
]

/**
 * The cases to run: all, or those HANDSHAKE_CASES names (comma-separated,
 * e.g. `edgegate,plain` for fresh ES256 only), so that a `--cpu-prof`
 * profile holds one kind of handshake.
 */
function selectedCases(): typeof ALL_CASES {
  const names = process.env.HANDSHAKE_CASES?.split(',').map((s) => s.trim())
  if (!names) return ALL_CASES
  for (const name of names)
    if (!ALL_CASES.some((c) => c.name === name))
      throw new TypeError(`HANDSHAKE_CASES: unknown case ${name}`)
  return ALL_CASES.filter((c) => names.includes(c.name))
}

export async function benchHandshakes(ctx: BenchContext): Promise<SectionResult> {
  const perSlice = ctx.smoke ? 20 : Number(process.env.HANDSHAKES_PER_SLICE ?? 250)
  const slices = ctx.smoke ? 2 : 8
  // Until V8 has compiled the path, as on a server that has been up for a while: functions
  // called once per handshake (the session's attach, the identity's write) reach TurboFan
  // only after several thousand (--trace-opt), and after 300 each the first measured run
  // cost edgegate half as much CPU again as the third.
  const warmup = ctx.smoke ? 10 : 6000
  const concurrency = ctx.smoke ? 4 : 32
  // Well under the verifier's cache (1,024 tokens), each reused several times per slice.
  const poolSize = ctx.smoke ? 10 : 100
  const CASES = selectedCases()
  const variants = VARIANTS.filter((variant) => CASES.some((c) => c.variant === variant))
  const servers = new Map<string, Awaited<ReturnType<typeof spawnServer>>>()
  for (const variant of variants)
    servers.set(variant, await spawnServer(variant, ctx.serverEnv, serverFlags(ctx, variant)))
  const rates: Record<string, number[]> = {}
  const cpuPer: Record<string, number[]> = {}
  const mainCpuPer: Record<string, number[]> = {}
  const profileWindows: { fromUs: number; toUs: number }[] = []
  // The reconnecting sockets' tokens: one pool for both variants, seen by edgegate in the warmup.
  const { identity, tokens } = handshakeTokens(ctx.issuer, 'hs', poolSize)
  // One client key, as one browser holds one: a fresh bound token and a fresh proof per handshake.
  const dpopKey = await benchDpopKey()
  const credentials = (kind: Tokens, url: string, n: number): Credential[] => {
    if (kind !== 'dpop') return tokens(kind, n)
    const htu = `${url}/socket.io/`
    return Array.from({ length: n }, () => {
      const token = ctx.issuer.mint({ ...identity(), jkt: dpopKey.jkt })
      return { token, dpop: dpopKey.proof(htu, token) }
    })
  }
  const signatureChecks = () => servers.get('edgegate')!.child.call<number>('signature-checks')
  try {
    // Each authenticating variant must refuse a token whose signature does not verify.
    for (const variant of variants) {
      const refused = await refuses(
        servers.get(variant)!.url,
        variant,
        forge(tokens('fresh', 1)[0]!),
      )
      if (refused !== (variant !== 'plain'))
        throw new Error(`${variant}: a forged token was ${refused ? 'refused' : 'accepted'}`)
    }
    if (
      servers.has('edgegate') &&
      !(await refuses(servers.get('edgegate')!.url, 'edgegate', forge(tokens('rs256', 1)[0]!)))
    )
      throw new Error('edgegate: a forged RS256 token was accepted')
    if (CASES.some((c) => c.tokens === 'dpop')) {
      // A bound token without its proof, and a proof spent once already, must be refused.
      const edgegateUrl = servers.get('edgegate')!.url
      const [bound] = credentials('dpop', edgegateUrl, 1) as { token: string; dpop: string }[]
      if (!(await refuses(edgegateUrl, 'edgegate', bound!.token)))
        throw new Error('edgegate: a DPoP-bound token without a proof was accepted')
      if (await refuses(edgegateUrl, 'edgegate', bound!))
        throw new Error('edgegate: a DPoP-bound token with its proof was refused')
      if (!(await refuses(edgegateUrl, 'edgegate', bound!)))
        throw new Error('edgegate: a replayed DPoP proof was accepted')
    }
    for (const { variant, tokens: kind } of CASES) {
      const { url } = servers.get(variant)!
      await handshakes(url, variant, credentials(kind, url, warmup), concurrency)
    }
    if (CASES.some((c) => c.variant === 'edgegate' && c.tokens === 'recent')) {
      // The other cases' warmups (thousands of fresh tokens) have pushed the pool out of the cache.
      const { url } = servers.get('edgegate')!
      await handshakes(url, 'edgegate', tokens('recent', poolSize), concurrency)
      const checksBefore = await signatureChecks()
      await handshakes(url, 'edgegate', tokens('recent', poolSize * 2), concurrency)
      if ((await signatureChecks()) !== checksBefore)
        throw new Error('edgegate: a reconnect with a recently seen token checked its signature')
    }
    // A profile summary covers the measured runs only, not start-up or the warmup.
    const clock = () => servers.values().next().value!.child.call<number>('clock')
    const fromUs = await clock()
    for (let run = 0; run < ctx.runs; run++) {
      const total = Object.fromEntries(
        CASES.map((c) => [c.name, { done: 0, ms: 0, cpuUs: 0, mainUs: 0 }]),
      )
      for (let slice = 0; slice < slices; slice++) {
        for (const { name, variant, tokens: kind } of rotate(CASES, run + slice)) {
          const { url, child } = servers.get(variant)!
          const list = credentials(kind, url, perSlice)
          const before = await child.call<Cpus>('cpus')
          const { done, ms } = await handshakes(url, variant, list, concurrency)
          // The server's CPU time per handshake is robust to neighbours that slow the wall clock.
          const after = await child.call<Cpus>('cpus')
          total[name]!.cpuUs += after.process - before.process
          total[name]!.mainUs += after.main - before.main
          total[name]!.done += done
          total[name]!.ms += ms
        }
      }
      for (const { name } of CASES) {
        const { done, ms, cpuUs, mainUs } = total[name]!
        ;(rates[name] ??= []).push((done / ms) * 1000)
        ;(cpuPer[name] ??= []).push(cpuUs / done)
        ;(mainCpuPer[name] ??= []).push(mainUs / done)
        ctx.log(
          `  run ${run + 1} ${name}: ${Math.round((done / ms) * 1000)} handshakes/s (${done} in ${Math.round(ms)} ms), ` +
            `server CPU ${Math.round(cpuUs / done)} µs each (main thread ${Math.round(mainUs / done)})`,
        )
      }
    }
    profileWindows.push({ fromUs, toUs: await clock() })
  } finally {
    for (const { child } of servers.values()) await child.stop()
  }
  return {
    figures: Object.fromEntries([
      ...Object.entries(rates).map(([k, xs]) => [k, figure(xs)]),
      ...Object.entries(cpuPer).map(([k, xs]) => [`${k} cpu`, figure(xs)]),
      ...Object.entries(mainCpuPer).map(([k, xs]) => [`${k} main cpu`, figure(xs)]),
    ]),
    profileWindows,
    config: { handshakesPerRun: perSlice * slices, slices, warmup, concurrency, poolSize },
    notes: [
      'handshakes: websocket transport, a fresh ES256 token per connection (minted before the clock starts); connect, CONNECT, close; ' +
        `${concurrency} in flight; each variant first shown to refuse a forged signature`,
      `handshakes, reconnect: tokens from a pool of ${poolSize}, each already verified by edgegate (its cache), ` +
        'first shown to cost edgegate no signature check; RS256: a fresh 2048-bit RS256 token per connection',
      'handshakes, dpop: a fresh DPoP-bound ES256 token and a fresh proof (auth.dpop) per connection, both made before the clock starts; ' +
        'edgegate first shown to refuse the bound token without its proof and a replayed proof; the node alone (the memory replay cache)',
    ],
  }
}

/** Whether the server refuses a handshake with `credential`. */
async function refuses(url: string, variant: string, credential: Credential): Promise<boolean> {
  try {
    ;(await connectSio(url, handshakeOptions(variant, credential))).close()
    return false
  } catch (err) {
    if (err instanceof ConnectRefused) return true
    throw err
  }
}

/** Handshake with each token (connect, CONNECT, close), `concurrency` at a time. */
export async function handshakes(
  url: string,
  variant: string,
  tokens: Credential[],
  concurrency: number,
  timeoutMs?: number,
) {
  const started = performance.now()
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++]!
      const client = await connectSio(url, {
        ...handshakeOptions(variant, token),
        localAddress: nextLocalAddress(),
        ...(timeoutMs !== undefined && { timeoutMs }),
      })
      client.close()
      done++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { done, ms: performance.now() - started }
}

/** Where a variant takes its credential: socketio-jwt's query, or the handshake's `auth`. */
function handshakeOptions(variant: string, credential: Credential) {
  if (typeof credential !== 'string') return { auth: credential }
  return variant === 'socketio-jwt'
    ? { query: { token: credential } }
    : { auth: { token: credential } }
}
