/**
 * Micro-benchmark of access-token verification, per algorithm: jose
 * (`verifyAccessToken`, WebCrypto, what the edge and other runtimes use) against the
 * realtime node's native path (`verifyAccessTokenNative`, node:crypto KeyObjects),
 * plus the realtime `TokenVerifier` on a token it has seen (the cache), and
 * the signature alone (one `crypto.verify` with the held KeyObject) against
 * the whole fresh-token check (`TokenVerifier` with no cache: parse,
 * signature, claims, revocation), whose difference is what a fresh token
 * costs beyond its signature.
 * Not a test: it prints µs per verify, the median of ROUNDS rounds.
 *
 *   node test/bench/verify-micro.ts          (ITERATIONS=500 ROUNDS=11)
 */
import { cpus } from 'node:os'
import { KEY_SET_ALGORITHMS } from '../../shared/jwks/algorithms.ts'
import { createKeySet } from '../../shared/jwks/key-set.ts'
import { verifyAccessToken } from '../../shared/verify-access-token.ts'
import { parseCompactJws } from '../../realtime/auth/compact-jws.ts'
import {
  importNativeKey,
  verifyNative,
  type NativeKey,
} from '../../realtime/auth/native-signature.ts'
import { TokenVerifier } from '../../realtime/auth/token-verifier.ts'
import { verifyAccessTokenNative } from '../../realtime/auth/verify-access-token-native.ts'
import { RevocationSet } from '../../realtime/revocations/revocation-set.ts'
import { fixtureKey, mintAccessToken } from '../realtime/auth/support/jws-fixtures.ts'

const ITERATIONS = Number(process.env.ITERATIONS ?? 500)
const ROUNDS = Number(process.env.ROUNDS ?? 11)
const ISSUER = 'https://edge.example'

const keys = KEY_SET_ALGORITHMS.map((alg) => fixtureKey(alg, `bench-${alg}`))
const keySet = createKeySet({
  jwksUrl: `${ISSUER}/.well-known/jwks.json`,
  issuer: ISSUER,
  algorithms: KEY_SET_ALGORITHMS,
  importNative: importNativeKey,
  fetch: async () => Response.json({ keys: keys.map((k) => k.jwk) }),
})
await keySet.load()
const options = { issuer: ISSUER, audience: 'realtime', clockToleranceSeconds: 5 }
const verifier = new TokenVerifier({ keySet, ...options, revocations: new RevocationSet() })
// Remembers nothing: every call checks the signature, as for a fresh token.
const uncached = new TokenVerifier({
  keySet,
  ...options,
  revocations: new RevocationSet(),
  cacheSize: 0,
})

const tokenFor = (key: (typeof keys)[number]) =>
  mintAccessToken(key, ISSUER, Math.floor(Date.now() / 1000), { exp: Date.now() / 1000 + 3600 })

/**
 * µs per call of each function: rounds of ITERATIONS calls, the functions
 * interleaved round by round (so load from elsewhere hits them alike), the
 * median of ROUNDS rounds each, after a warm-up round.
 */
async function measure(
  fns: Array<() => Promise<unknown>>,
): Promise<Array<{ wall: number; cpu: number }>> {
  const wall: number[][] = fns.map(() => [])
  const cpu: number[][] = fns.map(() => [])
  for (let round = -1; round < ROUNDS; round++) {
    for (const [i, fn] of fns.entries()) {
      const start = process.hrtime.bigint()
      const cpuStart = process.cpuUsage()
      for (let n = 0; n < ITERATIONS; n++) await fn()
      const used = process.cpuUsage(cpuStart)
      if (round < 0) continue
      wall[i]!.push(Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS)
      // Every thread of the process: WebCrypto runs its work on libuv's pool.
      cpu[i]!.push((used.user + used.system) / ITERATIONS)
    }
  }
  const median = (r: number[]) => r.sort((a, b) => a - b)[Math.floor(r.length / 2)]!
  return fns.map((_, i) => ({ wall: median(wall[i]!), cpu: median(cpu[i]!) }))
}

console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, ${ITERATIONS} × ${ROUNDS}`,
)
console.log(
  'µs per verify (wall / CPU of all threads); cached: TokenVerifier on a token it has seen',
)
console.log(
  'alg     jose wall  jose cpu  native wall  native cpu  cpu ratio  cached cpu  signature cpu  fresh cpu  beyond signature',
)
const cell = (n: number, w: number) => n.toFixed(1).padStart(w)
for (const key of keys) {
  const token = tokenFor(key)
  await verifier.verify(token)
  const jws = parseCompactJws(token)
  const held = keySet.peek(jws.kid)!.native as NativeKey
  const [jose, native, cached, signature, fresh] = await measure([
    () =>
      verifyAccessToken(token, keySet.getKey, {
        ...options,
        algorithms: keySet.allowedAlgorithms,
      }),
    () => verifyAccessTokenNative(token, keySet, { ...options, nowMs: Date.now() }),
    () => verifier.verify(token),
    async () => verifyNative(held, jws.signingInput, jws.signature),
    () => uncached.verify(token),
  ])
  console.log(
    `${key.alg.padEnd(6)} ${cell(jose!.wall, 10)} ${cell(jose!.cpu, 9)} ${cell(native!.wall, 12)} ${cell(native!.cpu, 11)} ${(jose!.cpu / native!.cpu).toFixed(2).padStart(9)}× ${cell(cached!.cpu, 11)} ${cell(signature!.cpu, 14)} ${cell(fresh!.cpu, 10)} ${cell(fresh!.cpu - signature!.cpu, 17)}`,
  )
}
keySet.close()
