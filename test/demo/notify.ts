/**
 * Another service tells alice something: a separate process publishes to
 * her through the realtime server API, with the demo service client that
 * `npm start` creates. Open the demo page as alice to see it arrive (or
 * log in later: the page catches up through her stream).
 *
 *   npm run demo:notify [text]
 *
 * EDGE_PORT and REALTIME_PORT (as given to `npm start`) say where the services are;
 * DEMO_CLIENT_ID and DEMO_CLIENT_SECRET (or DEMO_SERVICE_SECRET, as given to
 * `npm start`) override the demo service client. Publishing needs alice's user id (`sub`), not her name:
 * ALICE_SUB, or learned here by logging in as the demo user alice.
 */
import { decodeJwt } from 'jose'
import { DEMO_SERVICE_CLIENT } from '../../edge/local/demo-users.ts'
import { createPublisher } from '../../shared/publisher/index.ts'
import { localServices } from './running.ts'

const { edgeUrl: EDGE, realtimeUrl: REALTIME } = await localServices('demo:notify')
const CLIENT_ID = process.env.DEMO_CLIENT_ID ?? DEMO_SERVICE_CLIENT.clientId
// DEMO_SERVICE_SECRET is what `npm start` seeds the demo client with.
const CLIENT_SECRET =
  process.env.DEMO_CLIENT_SECRET ??
  process.env.DEMO_SERVICE_SECRET ??
  DEMO_SERVICE_CLIENT.defaultSecret

async function aliceSub(): Promise<string> {
  if (process.env.ALICE_SUB) return process.env.ALICE_SUB
  const res = await fetch(`${EDGE}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'alice', password: 'alice-password-1' }),
  })
  if (!res.ok) throw new Error(`login alice: HTTP ${res.status}`)
  const { access_token } = (await res.json()) as { access_token: string }
  return String(decodeJwt(access_token).sub)
}

const publisher = createPublisher({
  edgeUrl: EDGE,
  realtimeUrl: REALTIME,
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
})
const text =
  process.argv.slice(2).join(' ') || `Your report is ready (${new Date().toLocaleTimeString()})`
const answer = await publisher.publish({
  to: { user: await aliceSub() },
  event: 'notification',
  data: { text },
})
console.log(`published to alice as ${CLIENT_ID}: ${JSON.stringify(answer)}`)
