/**
 * Lifecycle events on a three-node cluster (docs/protocol.md §16): real
 * edge, real realtime processes, our own Redis, and a real webhook receiver
 * on loopback. A user's tabs on two nodes make one online and, after the
 * grace, one offline; a node killed with SIGKILL takes its user offline
 * within the grace plus 15 s, recorded once and delivered; and when the node
 * delivering an event is killed mid-delivery, another node delivers it.
 */
import { decodeJwt } from 'jose'
import type { Socket } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { endpointId } from '../../realtime/lifecycle/webhooks/endpoints.ts'
import { startReceiver, type Delivery, type Receiver } from '../realtime/lifecycle/receiver.ts'
import { cleanup as closeSockets, connect } from '../realtime/support.ts'
import { settle, until } from '../realtime/waits.ts'
import { login } from '../support/edge.ts'
import { cleanup, startCluster, startRedis, type Cluster } from './support.ts'

/** The contract's default grace (docs/protocol.md §10). */
const GRACE_MS = 5000
/** §10/§16: a dead node's users go offline within the grace plus 15 s. */
const DEAD_NODE_BOUND_MS = GRACE_MS + 15_000
/** How long an event held by a dead node waits before another claims it, in this test. */
const CLAIM_IDLE_MS = 3000
let cluster: Cluster
let receiver: Receiver
let reader: string
/** Deliveries to hang (never answer) the first time, by `type sub`. */
const hangOnce = new Set<string>()
const hung = new Set<string>()

afterEach(closeSockets)

describe('lifecycle events on a three-node cluster', () => {
  beforeAll(async () => {
    receiver = await startReceiver((_n, d: Delivery) => {
      const key = `${d.event.type} ${d.event.data.sub}`
      if (hangOnce.has(key) && !hung.has(key)) {
        hung.add(key)
        return 'hang'
      }
      return 200
    })
    const redis = await startRedis()
    cluster = await startCluster(3, {
      redisUrl: redis.url,
      env: {
        PRESENCE_GRACE_MS: String(GRACE_MS),
        WEBHOOKS: JSON.stringify([{ url: receiver.url, secret: receiver.secret }]),
        WEBHOOK_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS),
      },
    })
    reader = await serviceToken('events:read')
  }, 180_000)
  afterAll(async () => {
    await cleanup()
    await receiver.close()
  }, 60_000)

  it('records one user.online for tabs on two nodes, nothing for one closing or a reload, and one user.offline after the grace', async () => {
    const sub = await subOf('alice')
    const one = await tab('alice', 0)
    await tab('alice', 1)
    await eventsOf(sub, 1)
    one.close()
    const reload = await tab('alice', 2)
    reload.close()
    await tab('alice', 0)
    await settle(GRACE_MS + 3000)
    expect(await eventsOf(sub, 1)).toEqual(['user.online'])
    // Both tabs (and the reloaded one) close.
    await closeSockets()
    const closedAt = Date.now()
    const mine = await eventsOf(sub, 2, GRACE_MS + 20_000)
    expect(mine).toEqual(['user.online', 'user.offline'])
    const offline = (await pull(0)).find((e) => e.data.sub === sub && e.type === 'user.offline')
    expect(offline.ts - closedAt).toBeGreaterThanOrEqual(GRACE_MS - 50)
    // Delivered too: each event once by id (repeats only by id), signed.
    await until(() => deliveredTypes(sub).length === 2, { timeoutMs: 20_000, what: 'delivered' })
    expect(deliveredTypes(sub)).toEqual(['user.online', 'user.offline'])
  }, 90_000)

  it('takes the user of a node killed with SIGKILL offline within the grace plus 15 s, once, and delivers it', async () => {
    const sub = await subOf('carol')
    await tab('carol', 2)
    await eventsOf(sub, 1)
    const killedAt = Date.now()
    await cluster.nodes[2]!.kill()
    await eventsOf(sub, 2, DEAD_NODE_BOUND_MS + 10_000)
    const offline = (await pull(0)).filter((e) => e.data.sub === sub && e.type === 'user.offline')
    expect(offline).toHaveLength(1)
    console.log(
      `lifecycle: user.offline ${offline[0].ts - killedAt} ms after SIGKILL (bound ${DEAD_NODE_BOUND_MS} ms)`,
    )
    expect(offline[0].ts - killedAt).toBeLessThan(DEAD_NODE_BOUND_MS)
    await until(() => deliveredTypes(sub).includes('user.offline'), {
      timeoutMs: 20_000,
      what: 'offline delivered',
    })
    await cluster.restart(2)
  }, 90_000)

  it('delivers an event whose delivering node is killed mid-delivery from another node, with the same id', async () => {
    const sub = await subOf('bob')
    hangOnce.add(`user.online ${sub}`)
    await tab('bob', 0)
    await until(() => hung.has(`user.online ${sub}`), {
      timeoutMs: 20_000,
      what: 'the hung delivery',
    })
    const id = endpointId(receiver.url)
    // The node holding it reports it queued; kill that one.
    let holder = -1
    const deadline = Date.now() + 20_000
    while (holder < 0 && Date.now() < deadline) {
      for (const [i, node] of cluster.nodes.entries()) {
        const text = await (await fetch(`${node.url}/metrics`)).text()
        const queued = new RegExp(
          `^realtime_webhook_queued\\{endpoint="${id}"\\} (\\d+)`,
          'm',
        ).exec(text)
        if (Number(queued?.[1] ?? 0) > 0) holder = i
      }
      if (holder < 0) await settle(100)
    }
    expect(holder).toBeGreaterThanOrEqual(0)
    await cluster.nodes[holder]!.kill()
    await until(
      () =>
        receiver.deliveries.filter(
          (d) => d.event.data.sub === sub && d.event.type === 'user.online',
        ).length >= 2,
      { timeoutMs: CLAIM_IDLE_MS + 30_000, what: 'delivered by another node' },
    )
    const online = receiver.deliveries.filter(
      (d) => d.event.data.sub === sub && d.event.type === 'user.online',
    )
    expect(new Set(online.map((d) => d.id)).size).toBe(1)
    expect(online.every((d) => d.verified)).toBe(true)
  }, 90_000)
})

/** Types of the events delivered for `sub`, one per distinct webhook-id, in offset order. */
function deliveredTypes(sub: string): string[] {
  const byId = new Map<string, Delivery>()
  for (const d of receiver.deliveries) if (d.event.data.sub === sub) byId.set(d.id, d)
  expect([...byId.values()].every((d) => d.verified)).toBe(true)
  return [...byId.values()]
    .sort((a, b) => (a.event.ts === b.event.ts ? 0 : a.event.ts - b.event.ts))
    .map((d) => d.event.type)
}

/** Every event in the log, pulled from node `i` page by page. */
async function pull(i: number): Promise<any[]> {
  const out: any[] = []
  let after = ''
  for (;;) {
    const res = await fetch(`${cluster.nodes[i]!.url}/api/v1/events?limit=1000${after}`, {
      headers: { authorization: `Bearer ${reader}` },
    })
    expect(res.status).toBe(200)
    const page = (await res.json()) as { events: any[]; next: string; gap: boolean }
    expect(page.gap).toBe(false)
    out.push(...page.events)
    if (page.events.length < 1000) return out
    after = `&after=${encodeURIComponent(page.next)}`
  }
}

/** The user's event types once there are at least `n`, pulled from a live node. */
async function eventsOf(sub: string, n: number, timeoutMs = 20_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const types = (await pull(0)).filter((e) => e.data.sub === sub).map((e) => e.type)
    if (types.length >= n || Date.now() > deadline) return types
    await settle(100)
  }
}

async function subOf(username: string): Promise<string> {
  return String(decodeJwt((await login(cluster.edge.url, username)).access_token).sub)
}
async function tab(username: string, i: number): Promise<Socket> {
  const { access_token } = await login(cluster.edge.url, username)
  return connect(cluster.nodes[i]!.url, { auth: { token: access_token } })
}
async function serviceToken(scope: string): Promise<string> {
  const created = await fetch(`${cluster.edge.url}/admin/clients`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${cluster.edge.adminToken}`,
    },
    body: JSON.stringify({ name: 'events-reader', scope }),
  })
  if (created.status !== 201) throw new Error(`POST /admin/clients: HTTP ${created.status}`)
  const client = (await created.json()) as { client_id: string; client_secret: string }
  const res = await fetch(`${cluster.edge.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client.client_id,
      client_secret: client.client_secret,
    }),
  })
  if (res.status !== 200) throw new Error(`POST /auth/token: HTTP ${res.status}`)
  return ((await res.json()) as { access_token: string }).access_token
}
