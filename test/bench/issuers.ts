/**
 * Handshakes from a second issuer (RS256, configured as TRUSTED_ISSUERS
 * would: docs/other-issuers.md) against the edge's own (ES256), on one
 * realtime node in a child process. Each handshake has a fresh token
 * (minted before the clock starts); the two kinds take turns in short
 * slices, so a noisy neighbour slows both alike. Prints handshakes/s, the
 * server's CPU per handshake, and the ratio.
 *
 *   node test/bench/issuers.ts        (PER_SLICE=200 SLICES=6 CONCURRENCY=16)
 */
import { startBenchIssuer } from './lib/issuer.ts'
import { spawnServer } from './lib/procs.ts'
import { handshakes } from './sections/handshakes.ts'

const PER_SLICE = Number(process.env.PER_SLICE ?? 200)
const SLICES = Number(process.env.SLICES ?? 6)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16)

const edge = await startBenchIssuer('ES256')
const other = await startBenchIssuer('RS256')
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

const kinds = { 'edge ES256': edge, 'second issuer RS256': other } as const
type Kind = keyof typeof kinds
const total: Record<Kind, { done: number; ms: number; cpuUs: number }> = {
  'edge ES256': { done: 0, ms: 0, cpuUs: 0 },
  'second issuer RS256': { done: 0, ms: 0, cpuUs: 0 },
}
let serial = 0
const mint = (kind: Kind, n: number) =>
  Array.from({ length: n }, () => {
    const i = ++serial
    return kinds[kind].mint({ sub: `u${i}`, sid: `s${i}` })
  })

try {
  for (const kind of Object.keys(kinds) as Kind[])
    await handshakes(url, 'edgegate', mint(kind, 100), CONCURRENCY)
  for (let slice = 0; slice < SLICES; slice++) {
    const order = (Object.keys(kinds) as Kind[])[slice % 2 ? 'reverse' : 'slice']()
    for (const kind of order) {
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
for (const kind of Object.keys(kinds) as Kind[]) {
  console.log(
    `${kind}: ${Math.round(rate(kind))} handshakes/s, server CPU ${Math.round(cpu(kind))} µs each (${total[kind].done} handshakes)`,
  )
}
console.log(
  `second issuer / edge: ${(rate('second issuer RS256') / rate('edge ES256')).toFixed(2)}× the rate, ` +
    `${(cpu('second issuer RS256') / cpu('edge ES256')).toFixed(2)}× the server CPU per handshake`,
)
