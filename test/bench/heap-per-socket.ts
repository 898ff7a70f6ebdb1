/**
 * What an idle socket holds on the heap, by constructor, for edgegate over
 * plain Socket.IO: each variant's server takes a heap snapshot before and
 * after N idle sockets (from a holder process, as the memory section
 * connects them), and the per-socket growth of each (type, name) is printed
 * side by side, largest difference first.
 *
 *   node test/bench/heap-per-socket.ts [sockets=2000] [top=40] [--keep]
 *
 * Snapshots are written to the server's working directory and deleted after
 * (kept with --keep, to open in DevTools' Memory tab).
 */
import { readFile, rm } from 'node:fs/promises'
import type { ConnectCommand } from './holder.ts'
import { sleep } from './lib/context.ts'
import { startBenchIssuer } from './lib/issuer.ts'
import { spawnChild, spawnServer } from './lib/procs.ts'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }
  nodes: number[]
  strings: string[]
}

/** Count and bytes per `type:name` in a heap snapshot. */
async function aggregate(file: string): Promise<Map<string, { count: number; bytes: number }>> {
  const snap = JSON.parse(await readFile(file, 'utf8')) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const width = fields.length
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f))
  const types = snap.snapshot.meta.node_types[0]
  const out = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt!]!]!
    // Strings are grouped by kind only: their text is per socket (ids, tokens), not a class.
    const name =
      type === 'string' || type === 'concatenated string' || type === 'sliced string'
        ? ''
        : snap.strings[snap.nodes[i + nameAt!]!]!.slice(0, 60)
    const key = `${type}:${name}`
    const entry = out.get(key) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += snap.nodes[i + sizeAt!]!
    out.set(key, entry)
  }
  return out
}

const sockets = Number(process.argv[2] ?? 2000)
const top = Number(process.argv[3] ?? 40)
const keep = process.argv.includes('--keep')
const issuer = await startBenchIssuer()
const env = {
  BENCH_ISSUER: issuer.url,
  BENCH_JWKS_URL: issuer.jwksUrl,
  BENCH_PUBLIC_PEM: issuer.publicPem,
}
const holder = await spawnChild('holder.ts', {
  env: { BENCH_MINT_KEY: JSON.stringify(issuer.key) },
})
const growth = new Map<string, Map<string, { count: number; bytes: number }>>()
let serial = 0
try {
  for (const variant of ['edgegate', 'plain']) {
    const { child, url } = await spawnServer(variant, env)
    const connect = (count: number): ConnectCommand => ({
      url,
      count,
      concurrency: 32,
      prefix: `heap${++serial}`,
      firstTtlSeconds: 3600,
      spreadSeconds: 0,
      refreshTtlSeconds: 3600,
    })
    try {
      // More than the verifier's cache holds (1,024 tokens), so the bounded cache is full before.
      await holder.call('connect', connect(1100))
      await holder.call('closeAll')
      await sleep(300)
      await child.call('mem')
      const before = await child.call<string>('snapshot', undefined, 300_000)
      await holder.call('connect', connect(sockets))
      await sleep(1000)
      await child.call('mem')
      const after = await child.call<string>('snapshot', undefined, 300_000)
      const [a, b] = [await aggregate(before), await aggregate(after)]
      const delta = new Map<string, { count: number; bytes: number }>()
      for (const [key, x] of b) {
        const y = a.get(key) ?? { count: 0, bytes: 0 }
        delta.set(key, {
          count: (x.count - y.count) / sockets,
          bytes: (x.bytes - y.bytes) / sockets,
        })
      }
      growth.set(variant, delta)
      if (keep) console.log(`${variant} snapshots kept: ${before} ${after}`)
      else await Promise.all([rm(before), rm(after)])
      await holder.call('closeAll')
    } finally {
      await child.stop()
    }
  }
} finally {
  await holder.stop()
  await issuer.close()
}

const ours = growth.get('edgegate')!
const theirs = growth.get('plain')!
const total = (m: Map<string, { bytes: number }>) =>
  [...m.values()].reduce((s, x) => s + x.bytes, 0)
console.log(
  `heap per socket (${sockets} idle): edgegate ${total(ours).toFixed(0)} B, plain ${total(theirs).toFixed(0)} B`,
)
console.log('bytes/socket  count/socket  (edgegate − plain)  type:name')
const keys = new Set([...ours.keys(), ...theirs.keys()])
const rows = [...keys].map((key) => {
  const x = ours.get(key) ?? { count: 0, bytes: 0 }
  const y = theirs.get(key) ?? { count: 0, bytes: 0 }
  return { key, bytes: x.bytes - y.bytes, count: x.count - y.count, ours: x }
})
rows.sort((p, q) => Math.abs(q.bytes) - Math.abs(p.bytes))
for (const row of rows.slice(0, top))
  console.log(
    `${row.bytes.toFixed(1).padStart(10)}  ${row.count.toFixed(2).padStart(12)}  ` +
      `(ours ${row.ours.bytes.toFixed(0)} B, ${row.ours.count.toFixed(2)})  ${row.key}`,
  )
