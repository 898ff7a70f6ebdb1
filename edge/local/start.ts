/**
 * `npm start`: the whole system locally (edge, realtime, demo users).
 * `npm run start:edge` starts the edge alone.
 *
 * Environment: EDGE_PORT (8787), REALTIME_PORT (3000; with --nodes, the first of
 * consecutive ports), from which every local URL follows (edge/local/ports.ts),
 * REALTIME_URLS (where the edge pushes revocations; the local realtime nodes),
 * REALTIME_PUBLIC_URL (the page's realtime URL; the first node), STATE_DIR (.state),
 * ADMIN_TOKEN (dev-admin-token), REVOCATION_FEED_TOKEN (dev-feed-token),
 * DEMO_SERVICE_SECRET (the demo service client's secret), DEMO_EVENTS_PORT (8790:
 * the local webhook receiver, its live page of lifecycle events, and the demo
 * page's events panel through DEMO_EVENTS_URL), DEMO_IDP_PORT (8791: the demo
 * OpenID provider "Demo IdP", configured as FEDERATION unless FEDERATION is set), any
 * worker variable (ACCESS_TOKEN_TTL, JWKS_MAX_AGE, ROTATION_PERIOD,
 * SIGNING_ALG, AUDIENCE, SESSION_TTL, SERVICE_TOKEN_TTL) to override wrangler.toml, and any
 * realtime variable (see docs/configuration.md), which the realtime node inherits.
 */
import {
  DEMO_SERVICE_CLIENT,
  DEMO_USERS,
  demoServiceClientSql,
  demoUsersSql,
} from './demo-users.ts'
import { startDemoEvents, type DemoEvents } from './demo-events.ts'
import { DEMO_IDP_ACCOUNTS, DEMO_IDP_ID, startDemoIdp, type DemoIdp } from './demo-idp.ts'
import { startEdge } from './edge-process.ts'
import { readLocalPorts, type LocalPorts } from './ports.ts'
import { startRealtime, type RealtimeProcess } from './realtime-process.ts'

const edgeOnly = process.argv.includes('--edge-only')
const nodesFlag = process.argv.indexOf('--nodes')
const nodeCount = nodesFlag > 0 ? Number(process.argv[nodesFlag + 1]) : 1
if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 16) {
  console.error('--nodes takes a number from 1 to 16')
  process.exit(2)
}
if (nodeCount > 1 && !process.env.REDIS_URL) process.env.REDIS_URL = 'redis://127.0.0.1:6379'

const WORKER_VARS = [
  'ACCESS_TOKEN_TTL',
  'SERVICE_TOKEN_TTL',
  'JWKS_MAX_AGE',
  'ROTATION_PERIOD',
  'SIGNING_ALG',
  'AUDIENCE',
  'SESSION_TTL',
  'MAX_SESSIONS_PER_USER',
  'SIGNUP',
  'SIGNUP_SCOPE',
  'SIGNUP_ROOMS',
  'EMAIL_VERIFICATION',
  'MAILER',
  'MAILER_WEBHOOK_URL',
  'OUTBOX_VIEW',
  'RP_ID',
  'RP_ORIGINS',
  'RP_NAME',
  // DPoP (docs/dpop.md): optional|required, and the edge's nonces off|on.
  'DPOP',
  'DPOP_NONCE',
  'FEDERATION',
  'ALLOWED_RETURN_URLS',
]
const CRON_INTERVAL_MS = 5 * 60 * 1000

let ports: LocalPorts
try {
  ports = readLocalPorts()
} catch (err) {
  console.error((err as Error).message)
  process.exit(2)
}
const port = ports.edgePort
const vars = Object.fromEntries(
  WORKER_VARS.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
)
const realtimePorts = Array.from({ length: nodeCount }, (_, i) => ports.realtimePort + i)
// Where the edge pushes revocations: the local realtime nodes unless told otherwise.
vars.REALTIME_URLS =
  process.env.REALTIME_URLS ?? realtimePorts.map((p) => `http://127.0.0.1:${p}`).join(',')
// Where the demo page connects (/demo/config): the first local node, not wrangler.toml's 3000.
vars.REALTIME_PUBLIC_URL = process.env.REALTIME_PUBLIC_URL ?? ports.realtimeUrl

// Local defaults of docs/protocol.md §13: anyone may sign up, mail stays in the outbox, and the
// demo page may show the outbox (OUTBOX_VIEW is refused unless ISSUER is a loopback address).
vars.SIGNUP ??= 'open'
vars.MAILER ??= 'outbox'
if (vars.MAILER === 'outbox') vars.OUTBOX_VIEW ??= 'open'
// Passkeys (docs/protocol.md §14): browsers refuse an IP address as the relying party id, so
// locally the demo page's passkeys live at http://localhost:<edge port>.
const passkeyOrigin = `http://localhost:${port}`
vars.RP_ID ??= 'localhost'
vars.RP_ORIGINS ??= passkeyOrigin

// Lifecycle events (docs/webhooks.md): a local receiver with a live page, unless WEBHOOKS is set.
// It starts before the edge, whose demo page follows its stream (DEMO_EVENTS_URL, CORS for the edge).
let demoEvents: DemoEvents | undefined
if (!edgeOnly && !process.env.WEBHOOKS) {
  demoEvents = await startDemoEvents({
    port: Number(process.env.DEMO_EVENTS_PORT ?? 8790),
    allowOrigins: [ports.edgeUrl, passkeyOrigin],
  }).catch((err: Error) => {
    console.error(`demo events receiver not started: ${err.message}`)
    return undefined
  })
  if (demoEvents) vars.DEMO_EVENTS_URL = demoEvents.eventsUrl
}

// Federated login (docs/federated-login.md): a local OpenID provider as "Demo IdP", unless
// FEDERATION is set. Its callback is on the edge's issuer; the demo page returns to itself there.
let demoIdp: DemoIdp | undefined
if (!process.env.FEDERATION) {
  demoIdp = await startDemoIdp({
    port: ports.demoIdpPort,
    redirectUris: [`${ports.edgeUrl}/auth/federated/${DEMO_IDP_ID}/callback`],
  }).catch((err: Error) => {
    console.error(`demo IdP not started (choose another DEMO_IDP_PORT?): ${err.message}`)
    return undefined
  })
  if (demoIdp) {
    vars.FEDERATION = JSON.stringify([demoIdp.federationEntry])
    vars.ALLOWED_RETURN_URLS ??= `${ports.edgeUrl}/?signed_in=federated`
  }
}

// Local only: a demo service client with a stable, documented secret.
const demoServiceSecret = process.env.DEMO_SERVICE_SECRET || DEMO_SERVICE_CLIENT.defaultSecret
const edge = await startEdge({
  port,
  seedSql: `${await demoUsersSql()};\n${await demoServiceClientSql(demoServiceSecret)}`,
  stateDir: process.env.STATE_DIR ?? '.state',
  vars,
  ...(process.env.ADMIN_TOKEN && { adminToken: process.env.ADMIN_TOKEN }),
  ...(process.env.REVOCATION_FEED_TOKEN && { feedToken: process.env.REVOCATION_FEED_TOKEN }),
}).catch(async (err: Error) => {
  // wrangler's own hint names its --port flag; here the knob is EDGE_PORT.
  console.error(`edge failed to start on port ${port}: ${err.message}`)
  console.error('If the port is taken, choose another with EDGE_PORT (and REALTIME_PORT).')
  await demoIdp?.close()
  process.exit(1)
})
// wrangler dev does not fire cron triggers; do what production's cron does.
await edge.runCron()
const cron = setInterval(() => void edge.runCron().catch(() => undefined), CRON_INTERVAL_MS)

const nodes: RealtimeProcess[] = []
if (!edgeOnly) {
  try {
    for (const port of realtimePorts) {
      nodes.push(
        await startRealtime({
          REALTIME_PORT: String(port),
          EDGE_URL: edge.url,
          REVOCATION_FEED_TOKEN: edge.feedToken,
          ALLOWED_ORIGINS: process.env.ALLOWED_ORIGINS ?? `${edge.url},${passkeyOrigin}`,
          ...(demoEvents && {
            WEBHOOKS: JSON.stringify([{ url: demoEvents.hookUrl, secret: demoEvents.secret }]),
          }),
        }),
      )
    }
  } catch (err) {
    console.error(`realtime failed to start: ${(err as Error).message}`)
    for (const node of nodes) await node.stop()
    await edge.stop()
    await demoIdp?.close()
    process.exit(1)
  }
}
const realtime = nodes[0]

console.log(`
edgegate is running (state in ${edge.stateDir})

  edge       ${edge.url}
  passkeys   open the demo page as ${passkeyOrigin} to use them (not on an IP address)
${demoIdp ? `  demo IdP   ${demoIdp.issuer}   ("Sign in with Demo IdP"; accounts ${DEMO_IDP_ACCOUNTS.map((a) => `${a.username} / ${a.password}`).join(', ')})\n` : ''}${nodes.map((n) => `  realtime   ${n.url}   (Socket.IO path /socket.io; /healthz /readyz /metrics)\n`).join('')}${nodes.length > 1 ? `  cluster    ${nodes.length} nodes sharing ${process.env.REDIS_URL}\n` : ''}  JWKS       ${edge.url}/.well-known/jwks.json
  discovery  ${edge.url}/.well-known/openid-configuration

  demo logins (username / password):
${DEMO_USERS.map((u) => `    ${u.username.padEnd(6)} ${u.password.padEnd(18)} scope "${u.scope}", rooms ${JSON.stringify(u.rooms)}`).join('\n')}

  demo service client (client credentials, docs/server-api.md):
    client_id ${DEMO_SERVICE_CLIENT.clientId}   client_secret ${demoServiceSecret}   scope "${DEMO_SERVICE_CLIENT.scope}"

  try:  curl -s ${edge.url}/auth/login -H 'content-type: application/json' \\
          -d '{"username":"alice","password":"alice-password-1"}'
${realtime ? `        npm run demo:chat    (alice and bob chat in lobby from two Node clients)\n` : ''}${realtime ? `        npm run demo:notify  (another service notifies alice through the server API)\n` : ''}${demoEvents ? `        lifecycle events (webhooks), live: the demo page's panel, or ${demoEvents.pageUrl}\n` : ''}
Ctrl-C stops everything.
`)

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  clearInterval(cron)
  console.log(`\n${signal}: stopping…`)
  await Promise.all(nodes.map((n) => n.stop()))
  await edge.stop()
  await demoEvents?.close()
  await demoIdp?.close()
  process.exit(0)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
