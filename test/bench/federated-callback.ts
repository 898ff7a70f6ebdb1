/**
 * The edge's federated callback under Miniflare (`wrangler dev`, local D1): one
 * client in a loop runs the whole flow through the demo `oidc-provider`, and only
 * `GET /auth/federated/demo/callback` is timed (its flow cookie check, the
 * used-flow mark, the code exchange and the JWKS check at the provider on loopback,
 * the link lookup, the session and the refresh cookie).
 *
 *   node test/bench/federated-callback.ts      (WARMUP=8 CALLBACKS=40 by default)
 *
 * Starts stay under the start budget per address (60 per 10 minutes).
 */
import { loadavg } from 'node:os'
import { DEMO_IDP_ACCOUNTS } from '../../edge/local/demo-idp.ts'
import { startFederationStack } from '../support/federation-stack.ts'
import { Navigator, signInAtDemoIdp } from '../support/federation.ts'

const WARMUP = Number(process.env.WARMUP ?? 8)
const CALLBACKS = Number(process.env.CALLBACKS ?? 40)
if (WARMUP + CALLBACKS > 59) throw new RangeError('WARMUP + CALLBACKS must stay under 60 starts')

const stack = await startFederationStack()
const timings: number[] = []
try {
  for (let i = 0; i < WARMUP + CALLBACKS; i++) {
    const nav = new Navigator()
    const start = await nav.request(
      `${stack.edge.url}/auth/federated/demo/start?return_to=${encodeURIComponent(stack.returnTo)}`,
    )
    const back = await signInAtDemoIdp(nav, start.headers.get('location')!, DEMO_IDP_ACCOUNTS[0]!)
    const t0 = performance.now()
    const res = await nav.request(back)
    const ms = performance.now() - t0
    await res.body?.cancel()
    if (res.headers.get('location') !== stack.returnTo)
      throw new Error(`callback failed: ${res.status} ${res.headers.get('location')}`)
    if (i >= WARMUP) timings.push(ms)
  }
} finally {
  await stack.stop()
}
timings.sort((a, b) => a - b)
const at = (q: number) => timings[Math.min(timings.length - 1, Math.floor(q * timings.length))]!
console.log(
  `federated callback under wrangler dev: n=${timings.length} after ${WARMUP} warm-up, ` +
    `p50 ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms, min ${timings[0]!.toFixed(1)} ms; ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
)
