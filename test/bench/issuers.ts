/**
 * Handshakes from a second issuer (RS256, configured as TRUSTED_ISSUERS
 * would: docs/other-issuers.md) against the edge's own, ES256 and RS256, on
 * one realtime node in a child process: the edge's RS256 row separates the
 * cost of the algorithm from the cost of routing by `iss`. Each handshake
 * has a fresh token (minted before the clock starts); the kinds take turns
 * in short slices, so a noisy neighbour slows them alike. Prints
 * handshakes/s, the server's CPU per handshake, and the ratios.
 *
 *   node test/bench/issuers.ts        (PER_SLICE=200 SLICES=6 CONCURRENCY=16)
 */
import { rotate } from './lib/context.ts'
import { startBenchIssuer, type MintClaims } from './lib/issuer.ts'
import { spawnServer } from './lib/procs.ts'
import { handshakes } from './sections/handshakes.ts'

const PER_SLICE = Number(process.env.PER_SLICE ?? 200)
const SLICES = Number(process.env.SLICES ?? 6)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16)

const edge = await startBenchIssuer()
// Another issuer: its own URL (so its own `iss` and key set), signing RS256.
const other = await startBenchIssuer()
const trusted = [
  {
    issuer: other.url,
    jwksUri: other.jwksUrl,
    audience: 'realtime',
    algorithms: ['RS256'],
    requireTyp: true,
    scopeClaim: 'scope',
  },
]
const { child, url } = await spawnServer('edgegate', {
  BENCH_ISSUER: edge.url,
  BENCH_JWKS_URL: edge.jwksUrl,
  BENCH_PUBLIC_PEM: edge.publicPem,
  BENCH_TRUSTED_ISSUERS: JSON.stringify(trusted),
})

const KINDS = ['edge ES256', 'edge RS256', 'second issuer RS256'] as const
type Kind = (typeof KINDS)[number]
const minters: Record<Kind, (claims: MintClaims) => string> = {
  'edge ES256': edge.mint,
  'edge RS256': edge.mintRs256,
  'second issuer RS256': other.mintRs256,
}
const total = Object.fromEntries(KINDS.map((k) => [k, { done: 0, ms: 0, cpuUs: 0 }])) as Record<
  Kind,
  { done: number; ms: number; cpuUs: number }
>
let serial = 0
const mint = (kind: Kind, n: number) =>
  Array.from({ length: n }, () => {
    const i = ++serial
    return minters[kind]({ sub: `u${i}`, sid: `s${i}` })
  })

try {
  for (const kind of KINDS) await handshakes(url, 'edgegate', mint(kind, 100), CONCURRENCY)
  for (let slice = 0; slice < SLICES; slice++) {
    for (const kind of rotate(KINDS, slice)) {
      const tokens = mint(kind, PER_SLICE)
      const cpuBefore = await child.call<number>('cpu')
      const { done, ms } = await handshakes(url, 'edgegate', tokens, CONCURRENCY)
      total[kind].cpuUs += (await child.call<number>('cpu')) - cpuBefore
      total[kind].done += done
      total[kind].ms += ms
    }
  }
} finally {
  await child.stop()
  await edge.close()
  await other.close()
}

const rate = (k: Kind) => (total[k].done / total[k].ms) * 1000
const cpu = (k: Kind) => total[k].cpuUs / total[k].done
for (const kind of KINDS) {
  console.log(
    `${kind}: ${Math.round(rate(kind))} handshakes/s, server CPU ${Math.round(cpu(kind))} µs each (${total[kind].done} handshakes)`,
  )
}
for (const base of ['edge ES256', 'edge RS256'] as const) {
  console.log(
    `second issuer RS256 / ${base}: ${(rate('second issuer RS256') / rate(base)).toFixed(2)}× the rate, ` +
      `${(cpu('second issuer RS256') / cpu(base)).toFixed(2)}× the server CPU per handshake`,
  )
}
