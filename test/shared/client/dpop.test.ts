/**
 * DPoP end to end (docs/protocol.md §15) with the SDK against the real
 * thing: a seeded edge under wrangler dev asking for nonces (`DPOP_NONCE=on`)
 * with 10-second access tokens, a realtime node asking for its own nonces
 * (`REALTIME_DPOP_NONCE`), and Node clients built only from `shared/client`.
 * The SDK answers both nonce challenges by itself; a token lifted out of it
 * is useless without its key.
 */
import { decodeJwt } from 'jose'
import { io as ioClient } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { createRealtimeServer, type RealtimeServer } from '../../../realtime/server.ts'
import { EdgeAuth, RealtimeClient } from '../../../shared/client/index.ts'
import type { ConnectErrorData } from '../../../shared/events.ts'
import { until } from '../../realtime/waits.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import { dpopKey, proof } from '../../support/dpop.ts'

const TOKEN_TTL_SECONDS = 10
const NONCE_SECRET = 'sdk-test-nonce-secret-of-32-characters-or-more'

let edge: SeededEdge
let node: { server: RealtimeServer; url: string }
const clients: RealtimeClient[] = []
const sockets: ReturnType<typeof ioClient>[] = []

beforeAll(async () => {
  edge = await startSeededEdge({ ACCESS_TOKEN_TTL: String(TOKEN_TTL_SECONDS), DPOP_NONCE: 'on' })
  const server = createRealtimeServer({
    issuer: edge.url,
    events: chatEvents,
    revocationFeed: { edgeUrl: edge.url, token: edge.feedToken, intervalMs: 300 },
    dpop: { nonceSecret: NONCE_SECRET },
  })
  const address = await server.listen(0, '127.0.0.1')
  node = { server, url: `http://127.0.0.1:${address.port}` }
  await until(() => server.notReadyReasons().length === 0, {
    timeoutMs: 20_000,
    what: 'realtime node ready',
  })
})

afterAll(async () => {
  await node?.server.close({ timeoutMs: 2000 })
  await edge?.stop()
})

afterEach(() => {
  for (const client of clients.splice(0)) client.close()
  for (const socket of sockets.splice(0)) socket.close()
})

async function proofs(): Promise<string[]> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  return text.split('\n').filter((line) => line.startsWith('realtime_dpop_proofs_total'))
}

function count(lines: string[], labels: string): number {
  const line = lines.find((l) => l.startsWith(`realtime_dpop_proofs_total{${labels}}`))
  return line ? Number(line.split(' ').pop()) : 0
}

/** A raw socket.io-client handshake with `auth`, resolving to the refusal's data (or 'connected'). */
function handshake(auth: Record<string, unknown>): Promise<ConnectErrorData | 'connected'> {
  const socket = ioClient(node.url, { transports: ['websocket'], reconnection: false, auth })
  sockets.push(socket)
  return new Promise((resolve) => {
    socket.once('connect', () => resolve('connected'))
    socket.once('connect_error', (err) => resolve((err as { data: ConnectErrorData }).data))
  })
}

describe('the SDK binds its session to a key it never reveals', () => {
  it('logs in through the edge nonce, connects through the node nonce, refreshes in band with proofs, all by itself', async () => {
    const auth = new EdgeAuth({ edgeUrl: edge.url, refreshStorage: 'memory' })
    expect(auth.binds).toBe(true)
    const session = await auth.login('alice', 'alice-password-1')
    // The token is bound: cnf.jkt is the key's thumbprint.
    expect(session.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(decodeJwt(session.accessToken).cnf).toEqual({ jkt: session.jkt })

    const before = await proofs()
    const connectErrors: (ConnectErrorData | undefined)[] = []
    const client = new RealtimeClient({
      url: node.url,
      auth,
      socketOptions: { transports: ['websocket'] },
    })
    clients.push(client)
    client.socket.on('connect_error', (err) =>
      connectErrors.push((err as { data?: ConnectErrorData }).data),
    )
    await client.connect()
    // The node asked for a nonce once; the SDK retried at once with it.
    expect(connectErrors.map((d) => d?.code)).toEqual(['dpop_nonce_required'])
    const [socket] = await node.server.io.fetchSockets()
    expect(socket!.data.jkt).toBe(session.jkt)
    await client.join('lobby')
    await client.emit('chat:send', { room: 'lobby', text: 'bound' })

    // rt:expiring → refresh at the edge (a proof) → rt:auth with a POST proof.
    await until(() => auth.refreshes >= 1 && client.connectionState === 'connected', {
      timeoutMs: 20_000,
      what: 'an in-band refresh',
    })
    const after = await proofs()
    expect(
      count(after, 'context="handshake",outcome="ok",reason="ok"') -
        count(before, 'context="handshake",outcome="ok",reason="ok"'),
    ).toBe(1)
    await until(
      () =>
        client.connectionState === 'connected' &&
        auth.current()!.accessToken !== session.accessToken,
      { what: 'a new token' },
    )
    expect(auth.current()!.jkt).toBe(session.jkt)
    await client.emit('chat:send', { room: 'lobby', text: 'still bound' })
    expect(count(await proofs(), 'context="in_band",outcome="ok",reason="ok"')).toBeGreaterThan(0)
  })

  it('a token lifted out of the SDK opens no socket: without a proof dpop_required, with a thief key dpop_invalid', async () => {
    const auth = new EdgeAuth({ edgeUrl: edge.url, refreshStorage: 'memory' })
    const { accessToken: token } = await auth.login('bob', 'bob-password-1')
    expect(await handshake({ token })).toMatchObject({ code: 'dpop_required' })
    const thief = await dpopKey()
    const first = await handshake({
      token,
      dpop: await proof(thief, `${node.url}/socket.io/`, 'GET', { token }),
    })
    // The node's nonce comes first; the thief can get one too, and is refused on the key.
    expect(first).toMatchObject({ code: 'dpop_nonce_required', nonce: expect.any(String) })
    const nonce = (first as ConnectErrorData).nonce!
    const dpop = await proof(thief, `${node.url}/socket.io/`, 'GET', { token, nonce })
    expect(await handshake({ token, dpop })).toMatchObject({ code: 'dpop_invalid' })
  })

  it('with dpop: false the session is a bearer one and connects without proofs', async () => {
    const auth = new EdgeAuth({ edgeUrl: edge.url, refreshStorage: 'memory', dpop: false })
    expect(auth.binds).toBe(false)
    const session = await auth.login('carol', 'carol-password-1')
    expect(session.jkt).toBeUndefined()
    expect(decodeJwt(session.accessToken).cnf).toBeUndefined()
    const client = new RealtimeClient({
      url: node.url,
      auth,
      socketOptions: { transports: ['websocket'] },
    })
    clients.push(client)
    await client.connect()
    const sockets = await node.server.io.fetchSockets()
    expect(sockets.find((s) => s.data.auth.sub === session.sub)!.data.jkt).toBeUndefined()
  })
})
