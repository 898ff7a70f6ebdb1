/**
 * The SDK's room grants (docs/protocol.md §11) against the real edge: the
 * grant provider stands for the application's backend, which asks the
 * edge's `/auth/room-grants` with its service token, as docs/room-grants.md
 * shows. `join(room, { grant })`, the provider called on `forbidden`, and a
 * fresh grant fetched for the re-join after a reconnect once the old one has
 * expired.
 */
import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { createRealtimeServer, type RealtimeServer } from '../../../realtime/server.ts'
import type { ServiceTokenResponse } from '../../../shared/claims.ts'
import { ClientError, EdgeAuth, RealtimeClient } from '../../../shared/client/index.ts'
import { fetchGrant, type GrantProvider } from '../../../shared/client/room-grants.ts'
import { until } from '../../realtime/waits.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'

let edge: SeededEdge
let serviceToken: string
const servers: RealtimeServer[] = []
const clients: RealtimeClient[] = []

beforeAll(async () => {
  edge = await startSeededEdge()
  const created = await fetch(`${edge.url}/admin/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${edge.adminToken}` },
    body: JSON.stringify({ name: 'docs-backend', scope: 'grants' }),
  })
  const { client_id, client_secret } = (await created.json()) as {
    client_id: string
    client_secret: string
  }
  const res = await fetch(`${edge.url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id,
      client_secret,
    }).toString(),
  })
  serviceToken = ((await res.json()) as ServiceTokenResponse).access_token
})

afterAll(async () => {
  await edge?.stop()
})

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  for (const server of servers.splice(0)) await server.close({ timeoutMs: 2000 })
})

async function startRealtime(): Promise<{ server: RealtimeServer; url: string }> {
  const server = createRealtimeServer({ issuer: edge.url, events: chatEvents })
  servers.push(server)
  const { port } = await server.listen(0, '127.0.0.1')
  await until(() => server.notReadyReasons().length === 0, { timeoutMs: 10_000, what: 'keys' })
  return { server, url: `http://127.0.0.1:${port}` }
}

/** The application backend: its own rule (doc:* for alice only), then the edge's grant. */
function backend(auth: EdgeAuth, ttl: number, calls: string[]) {
  return async (room: string): Promise<string> => {
    calls.push(room)
    const { sub, sid } = decodeJwt(auth.current()!.accessToken) as { sub: string; sid: string }
    const res = await fetch(`${edge.url}/auth/room-grants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${serviceToken}` },
      body: JSON.stringify({ sub, sid, rooms: [room], ttl }),
    })
    return ((await res.json()) as { grant: string }).grant
  }
}

async function alice(url: string, grantProvider?: (room: string) => Promise<string>) {
  const auth = new EdgeAuth({ edgeUrl: edge.url, refreshStorage: 'memory' })
  await auth.login('alice', 'alice-password-1')
  const client = new RealtimeClient({
    url,
    auth,
    socketOptions: { transports: ['websocket'] },
    ...(grantProvider && { grantProvider }),
  })
  clients.push(client)
  return { auth, client }
}

const roomsOf = (server: RealtimeServer) =>
  [...server.io.of('/').sockets.values()].flatMap((s) => [...s.rooms])

describe('fetchGrant', () => {
  const failing: [string, GrantProvider][] = [
    ['throws an Error', () => Promise.reject(new Error('backend said 403'))],
    ['throws a string', () => Promise.reject('nope')],
    [
      'throws synchronously',
      () => {
        throw new TypeError('bug in the app')
      },
    ],
    ['answers undefined', () => Promise.resolve(undefined as unknown as string)],
    ['answers an object', () => Promise.resolve({ grant: 'x' } as unknown as string)],
    ['answers an empty string', () => Promise.resolve('')],
  ]

  it.each(failing)('a provider that %s rejects with ClientError forbidden', async (_, provider) => {
    const err = await fetchGrant(provider, 'doc:9', 10_000).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect(err).toMatchObject({ code: 'forbidden' })
    expect((err as Error).message).toMatch(/^grant for doc:9: the grant provider /)
  })

  it("keeps the provider's error as the cause", async () => {
    const thrown = new Error('backend said 403')
    const err = await fetchGrant(() => Promise.reject(thrown), 'doc:9', 10_000).catch(
      (e: unknown) => e,
    )
    expect((err as Error).cause).toBe(thrown)
  })

  it('passes a grant through', async () => {
    expect(await fetchGrant(async () => 'a.b.c', 'doc:9', 10_000)).toBe('a.b.c')
  })
})

describe('RealtimeClient room grants', () => {
  it('a provider that throws rejects the join with a ClientError, not its raw error', async () => {
    const { url } = await startRealtime()
    const { client } = await alice(url, () => Promise.reject(new Error('backend down')))
    await client.connect()
    const err = await client.join('doc:4').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect(err).toMatchObject({ code: 'forbidden', cause: { message: 'backend down' } })
  })

  it('join(room, { grant }) sends the grant; without one the room is forbidden', async () => {
    const { server, url } = await startRealtime()
    const { auth, client } = await alice(url)
    await client.connect()
    await expect(client.join('doc:1')).rejects.toMatchObject({ code: 'forbidden' })
    const grant = await backend(auth, 300, [])('doc:1')
    await client.join('doc:1', { grant })
    expect(roomsOf(server)).toContain('doc:1')
  })

  it('calls grantProvider when a join is refused forbidden, once, and joins with its grant', async () => {
    const { server, url } = await startRealtime()
    const calls: string[] = []
    const { auth, client } = await alice(url, (room) => backend(auth, 300, calls)(room))
    await client.connect()
    await client.join('lobby')
    await client.join('doc:2')
    expect(calls).toEqual(['doc:2'])
    expect(roomsOf(server)).toEqual(expect.arrayContaining(['lobby', 'doc:2']))
  })

  it('a provider whose grant does not help leaves the refusal to the caller', async () => {
    const { url } = await startRealtime()
    const { auth, client } = await alice(url, (room) => backend(auth, 300, [])(`${room}-other`))
    await client.connect()
    const err = await client.join('doc:3').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect(err).toMatchObject({ code: 'forbidden' })
  })

  it('after a reconnect, a room whose grant has expired is re-joined with a fresh grant', async () => {
    const { server, url } = await startRealtime()
    const calls: string[] = []
    const { auth, client } = await alice(url, (room) => backend(auth, 1, calls)(room))
    await client.connect()
    await client.join('doc:4')
    expect(calls).toEqual(['doc:4'])
    const first = decodeJwt(await backend(auth, 1, [])('doc:4'))
    await until(() => Date.now() / 1000 > first.exp!, {
      timeoutMs: 10_000,
      what: 'the grant expired',
    })

    // The server drops the transport; the client reconnects by itself.
    for (const socket of server.io.of('/').sockets.values()) socket.conn.close()
    await until(() => calls.length === 2 && roomsOf(server).includes('doc:4'), {
      timeoutMs: 15_000,
      what: 'the re-join with a fresh grant',
    })
    expect(calls).toEqual(['doc:4', 'doc:4'])
  })
})
