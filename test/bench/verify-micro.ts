/**
 * Micro-benchmark of access-token verification, per algorithm: jose
 * (`verifyAccessToken`, WebCrypto, what the edge and other runtimes use) against the
 * realtime node's native path (`verifyAccessTokenNative`, node:crypto KeyObjects),
 * plus the realtime `TokenVerifier` on a token it has seen (the cache).
 * Not a test: it prints µs per verify, the median of ROUNDS rounds.
 *
 *   node test/bench/verify-micro.ts          (ITERATIONS=2000 ROUNDS=5)
 */
import { cpus } from 'node:os'
import { KEY_SET_ALGORITHMS } from '../../shared/jwks/algorithms.ts'
import { createKeySet } from '../../shared/jwks/key-set.ts'
import { verifyAccessToken } from '../../shared/verify-access-token.ts'
import { importNativeKey } from '../../realtime/auth/native-signature.ts'
import { TokenVerifier } from '../../realtime/auth/token-verifier.ts'
import { verifyAccessTokenNative } from '../../realtime/auth/verify-access-token-native.ts'
import { RevocationSet } from '../../realtime/revocations/revocation-set.ts'
import { fixtureKey, signRaw } from '../realtime/auth/support/jws-fixtures.ts'

const ITERATIONS = Number(process.env.ITERATIONS ?? 2000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
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

function tokenFor(key: (typeof keys)[number]): string {
  const now = Math.floor(Date.now() / 1000)
  return signRaw(
    key,
    JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid }),
    JSON.stringify({
      iss: ISSUER,
      aud: 'realtime',
      sub: 'u-1',
      sid: 's-1',
      jti: 'j-1',
      name: 'alice',
      iat: now,
      nbf: now,
      exp: now + 3600,
      scope: 'chat:read chat:write',
      rooms: ['lobby'],
    }),
  )
}

/** Median µs per call of `fn` over ROUNDS rounds of ITERATIONS calls (after a warm-up round). */
async function measure(fn: () => Promise<unknown>): Promise<number> {
  const rounds: number[] = []
  for (let round = -1; round < ROUNDS; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < ITERATIONS; i++) await fn()
    const us = Number(process.hrtime.bigint() - start) / 1000 / ITERATIONS
    if (round >= 0) rounds.push(us)
  }
  return rounds.sort((a, b) => a - b)[Math.floor(rounds.length / 2)]!
}

console.log(
  `node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, ${ITERATIONS} × ${ROUNDS}`,
)
console.log('alg     jose µs  native µs  ratio  cached µs')
for (const key of keys) {
  const token = tokenFor(key)
  const jose = await measure(() =>
    verifyAccessToken(token, keySet.getKey, {
      ...options,
      algorithms: keySet.allowedAlgorithms,
    }),
  )
  const native = await measure(() =>
    verifyAccessTokenNative(token, keySet, { ...options, nowMs: Date.now() }),
  )
  await verifier.verify(token)
  const cached = await measure(() => verifier.verify(token))
  console.log(
    `${key.alg.padEnd(6)} ${jose.toFixed(1).padStart(8)} ${native.toFixed(1).padStart(10)} ${(jose / native).toFixed(2).padStart(6)}× ${cached.toFixed(1).padStart(10)}`,
  )
}
keySet.close()
