/**
 * The client SDK against the real thing: a seeded edge under wrangler dev
 * with 10-second access tokens, real realtime nodes on loopback, and Node
 * clients built only from `shared/client` (EdgeAuth in memory mode).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { decodeJwt } from 'jose'
import * as v from 'valibot'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { defineEvent } from '../../../realtime/messages/registry.ts'
import {
  createRealtimeServer,
  type RealtimeServer,
  type RealtimeServerOptions,
} from '../../../realtime/server.ts'
import {
  ClientError,
  EdgeAuth,
  RealtimeClient,
  type ClientErrorCode,
  type ConnectionState,
  type RealtimeClientOptions,
} from '../../../shared/client/index.ts'
import type { ChatMessage, ConnectErrorData } from '../../../shared/events.ts'
import { settle, until } from '../../realtime/waits.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'

const TOKEN_TTL_SECONDS = 10

let edge: SeededEdge
const servers: RealtimeServer[] = []
const clients: RealtimeClient[] = []
/** Envelope ids the `test:hang` handler has seen, this test. */
const hung: string[] = []

beforeAll(async () => {
  edge = await startSeededEdge({ ACCESS_TOKEN_TTL: String(TOKEN_TTL_SECONDS) })
})

afterAll(async () => {
  await edge?.stop()
})

afterEach(async () => {
  hung.length = 0
  for (const client of clients.splice(0)) client.close()
  for (const server of servers.splice(0)) await server.close({ timeoutMs: 2000 })
})

/**
 * A realtime node trusting the edge and reading its revocation feed, on
 * `port` (0 for any), once it is ready. A `test:hang` event whose handler
 * records the envelope id and never settles stands for an ack that never comes.
 */
async function startRealtime(
  options: Partial<RealtimeServerOptions> = {},
  port = 0,
): Promise<{ server: RealtimeServer; url: string }> {
  const server = createRealtimeServer({
    issuer: edge.url,
    events: {
      ...chatEvents,
      'test:hang': defineEvent({
        schema: v.strictObject({}),
        handler: ({ envelope }) => {
          hung.push(envelope.id)
          return new Promise(() => {})
        },
      }),
    },
    revocationFeed: { edgeUrl: edge.url, token: edge.feedToken, intervalMs: 300 },
    ...options,
  })
  servers.push(server)
  const address = await server.listen(port, '127.0.0.1')
  await until(() => server.notReadyReasons().length === 0, {
    timeoutMs: 10_000,
    what: 'realtime node ready',
  })
  return { server, url: `http://127.0.0.1:${address.port}` }
}

/** Close a node started by {@link startRealtime} before the test ends. */
async function stopRealtime(server: RealtimeServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1)
  await server.close({ timeoutMs: 2000 })
}

/** A logged-in EdgeAuth (refresh token in memory, as a Node client keeps it). */
async function signIn(username: string): Promise<EdgeAuth> {
  const auth = new EdgeAuth({ edgeUrl: edge.url, refreshStorage: 'memory' })
  await auth.login(username, `${username}-password-1`)
  return auth
}

/** A client (not yet connected) that records its states and connect errors; closed after the test. */
function open(url: string, auth: EdgeAuth, options: Partial<RealtimeClientOptions> = {}) {
  const states: ConnectionState[] = []
  const connectErrors: (ConnectErrorData | undefined)[] = []
  const authRequired: ClientErrorCode[] = []
  const client = new RealtimeClient({
    url,
    auth,
    socketOptions: { transports: ['websocket'] },
    onStateChange: (state) => states.push(state),
    onAuthRequired: (code) => authRequired.push(code),
    ...options,
  })
  client.socket.on('connect_error', (err) =>
    connectErrors.push((err as { data?: ConnectErrorData }).data),
  )
  let connects = 0
  client.socket.on('connect', () => connects++)
  clients.push(client)
  return { client, auth, states, connectErrors, authRequired, connects: () => connects }
}

/** A client of `username`, connected and in `lobby`. */
async function inLobby(
  url: string,
  username: string,
  options: Partial<RealtimeClientOptions> = {},
) {
  const opened = open(url, await signIn(username), options)
  await opened.client.connect()
  await opened.client.join('lobby')
  return opened
}

/** Every chat:message the client receives, in arrival order. */
function inbox(client: RealtimeClient): ChatMessage[] {
  const seen: ChatMessage[] = []
  client.on<ChatMessage>('chat:message', (message) => seen.push(message))
  return seen
}

/** The code a client call rejected with (failing the test if it resolved or threw something else). */
async function refusal(promise: Promise<unknown>): Promise<ClientErrorCode> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    return (err as ClientError).code
  }
  throw new Error('expected the call to be refused')
}

describe('RealtimeClient: emit, ack and refusals', () => {
  it('connects, joins a room, and chat:send resolves with the message id that another client receives', async () => {
    const { url } = await startRealtime()
    const alice = await inLobby(url, 'alice')
    const bob = await inLobby(url, 'bob')
    const received = inbox(bob.client)

    const ack = await alice.client.emit<{ id: string }>('chat:send', {
      room: 'lobby',
      text: 'hello bob',
    })

    expect(ack).toEqual({ id: expect.any(String) })
    await until(() => received.length === 1, { what: 'bob receives the message' })
    expect(received[0]).toEqual({
      id: ack.id,
      room: 'lobby',
      from: { sub: alice.auth.current()!.sub, name: 'alice' },
      text: 'hello bob',
      ts: expect.any(Number),
    })
    expect(alice.connectErrors).toEqual([])
  })

  it('rejects with forbidden for a room not joined, and with envelope_invalid for data that fails the schema', async () => {
    const { url } = await startRealtime()
    const alice = open(url, await signIn('alice'))
    await alice.client.connect()

    expect(
      await refusal(alice.client.emit('chat:send', { room: 'lobby', text: 'not joined yet' })),
    ).toBe('forbidden')
    await alice.client.join('lobby')
    for (const data of [
      { room: 'lobby', text: '' },
      { room: 'lobby' },
      { room: 'lobby', text: 'hi', extra: 1 },
      null,
    ]) {
      expect(await refusal(alice.client.emit('chat:send', data))).toBe('envelope_invalid')
    }
    // A refusal is an answer, not a broken connection.
    expect(alice.client.connectionState).toBe('connected')
    expect(await alice.client.emit('chat:send', { room: 'lobby', text: 'now joined' })).toEqual({
      id: expect.any(String),
    })
  })

  it('rejects with timeout when the ack never comes', async () => {
    const { url } = await startRealtime()
    const alice = open(url, await signIn('alice'))
    await alice.client.connect()

    expect(await refusal(alice.client.emit('test:hang', {}, { timeoutMs: 300 }))).toBe('timeout')
    expect(alice.client.connectionState).toBe('connected')
  })
})

describe('RealtimeClient: tokens', () => {
  it('stays connected across several token lifetimes, refreshing in band; a stream of emits arrives once each, in order', async () => {
    const { url } = await startRealtime()
    const alice = await inLobby(url, 'alice')
    const bob = await inLobby(url, 'bob')
    const received = inbox(bob.client)
    const auth = alice.auth
    const firstExp = auth.current()!.exp

    // One emit every 500 ms for 2.5 token lifetimes.
    const texts: string[] = []
    const acks: Promise<{ id: string }>[] = []
    for (let i = 0; i < (TOKEN_TTL_SECONDS * 2.5 * 1000) / 500; i++) {
      texts.push(`message ${i}`)
      acks.push(
        alice.client.emit<{ id: string }>('chat:send', { room: 'lobby', text: `message ${i}` }),
      )
      await settle(500)
    }
    const ids = (await Promise.all(acks)).map((ack) => ack.id)
    await until(() => received.length >= texts.length, { what: 'bob receives the stream' })
    await settle(200)

    expect(received.map((m) => m.text)).toEqual(texts)
    expect(received.map((m) => m.id)).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
    // Past the first token's exp and its tolerance, on the same connection.
    expect(Date.now() / 1000).toBeGreaterThan(firstExp + 5)
    expect(auth.refreshes).toBeGreaterThanOrEqual(2)
    expect(auth.current()!.exp).toBeGreaterThan(firstExp)
    for (const client of [alice, bob]) {
      expect(client.connects()).toBe(1)
      expect(client.connectErrors).toEqual([])
      expect(new Set(client.states.slice(client.states.indexOf('connected')))).toEqual(
        new Set(['connected', 'refreshing']),
      )
      expect(client.client.connectionState).toBe('connected')
    }
  })

  it('refreshes when the server sends rt:expiring, and the connection takes the new token', async () => {
    // A node whose clock runs 5 s ahead sends the notice (1 s before exp by its clock) 4 s after
    // issue, before the client's own fallback (5 s before exp) would refresh.
    const { url } = await startRealtime({ now: () => Date.now() + 5000 })
    const alice = await inLobby(url, 'alice')
    const statesAtNotice: ConnectionState[] = []
    // Registered after the client's own listener, so it sees what that listener did.
    alice.client.on('rt:expiring', () => statesAtNotice.push(alice.client.connectionState))
    const firstExp = alice.auth.current()!.exp

    await until(() => alice.auth.refreshes === 1 && alice.client.connectionState === 'connected', {
      timeoutMs: TOKEN_TTL_SECONDS * 1000,
      what: 'a refresh',
    })

    expect(statesAtNotice[0]).toBe('refreshing')
    expect(alice.auth.current()!.exp).toBeGreaterThan(firstExp)
    expect(alice.connects()).toBe(1)
    // Still in lobby on the same connection, under the new token.
    expect(
      await alice.client.emit('chat:send', { room: 'lobby', text: 'after the notice' }),
    ).toEqual({ id: expect.any(String) })
  })

  it('when the handshake is refused with token_expired (refresh: true), refreshes at the edge and connects', async () => {
    // No leeway on exp, so the token is refused as soon as it has expired.
    const { url } = await startRealtime({ clockToleranceSeconds: 0 })
    const auth = await signIn('alice')
    const expired = auth.current()!
    await until(() => Date.now() >= expired.exp * 1000 + 200, {
      timeoutMs: (TOKEN_TTL_SECONDS + 2) * 1000,
      what: 'the access token expires',
    })
    const alice = open(url, auth)

    await alice.client.connect()

    expect(alice.connectErrors).toEqual([
      expect.objectContaining({ code: 'token_expired', refresh: true }),
    ])
    expect(auth.refreshes).toBe(1)
    expect(auth.current()!.accessToken).not.toBe(expired.accessToken)
    expect(alice.client.connectionState).toBe('connected')
    await alice.client.join('lobby')
    expect(await alice.client.emit('chat:send', { room: 'lobby', text: 'back' })).toEqual({
      id: expect.any(String),
    })
  })

  it('logging out ends that session only: its client stops with token_revoked, another session of the user stays', async () => {
    const { url } = await startRealtime()
    const leaving = await inLobby(url, 'alice')
    const staying = await inLobby(url, 'alice')

    await leaving.auth.logout()

    await until(() => leaving.client.connectionState === 'auth_required', {
      timeoutMs: 10_000,
      what: 'auth_required',
    })
    expect(leaving.authRequired).toEqual(['token_revoked'])
    expect(staying.client.connectionState).toBe('connected')
    expect(await staying.client.emit('chat:send', { room: 'lobby', text: 'still here' })).toEqual({
      id: expect.any(String),
    })
    expect(staying.authRequired).toEqual([])
  })

  it("a disabled user's client stops with auth_required and onAuthRequired('token_revoked'); in-flight and queued emits reject", async () => {
    const { url } = await startRealtime()
    // carol: two sessions. One connected with an emit waiting for its ack, one not yet connected with an emit queued.
    const connected = await inLobby(url, 'carol')
    const inFlight = refusal(connected.client.emit('test:hang', {}, { timeoutMs: 20_000 }))
    const later = open(url, await signIn('carol'))
    const queued = refusal(later.client.emit('rt:join', { room: 'lobby' }))

    const res = await fetch(`${edge.url}/admin/users/carol/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${edge.adminToken}` },
    })
    expect(res.status).toBe(204)

    await until(() => connected.client.connectionState === 'auth_required', {
      timeoutMs: 10_000,
      what: 'auth_required',
    })
    expect(connected.authRequired).toEqual(['token_revoked'])
    expect(await inFlight).toBe('token_revoked')
    expect(await refusal(connected.client.emit('rt:join', { room: 'lobby' }))).toBe('auth_required')

    // The node knows of the revocation now (it kicked the first session): the second is refused at the handshake.
    expect(await refusal(later.client.connect())).toBe('token_revoked')
    expect(await queued).toBe('token_revoked')
    expect(later.client.connectionState).toBe('auth_required')
    expect(later.authRequired).toEqual(['token_revoked'])
    expect(later.connectErrors).toEqual([
      expect.objectContaining({ code: 'token_revoked', refresh: false }),
    ])
    // It stays stopped: no retry behind the application's back.
    await settle(1000)
    expect(later.connectErrors).toHaveLength(1)
    expect(later.client.socket.connected).toBe(false)
  })
})

describe('RealtimeClient: queueing and reconnects', () => {
  it('queues emits made while the transport is down and delivers each once, in order, after the reconnect', async () => {
    const { url } = await startRealtime()
    const alice = await inLobby(url, 'alice')
    const bob = await inLobby(url, 'bob')
    const received = inbox(bob.client)

    alice.client.socket.io.engine.close()
    expect(alice.client.connectionState).toBe('reconnecting')
    const texts = ['one', 'two', 'three', 'four', 'five']
    const acks = texts.map((text) =>
      alice.client.emit<{ id: string }>('chat:send', { room: 'lobby', text }),
    )

    const ids = (await Promise.all(acks)).map((ack) => ack.id)
    await until(() => received.length >= texts.length, { what: 'bob receives the queued messages' })
    await settle(200)

    // Delivered after a new connection, in lobby again without being asked.
    expect(alice.connects()).toBe(2)
    expect(received.map((m) => m.text)).toEqual(texts)
    expect(received.map((m) => m.id)).toEqual(ids)
  })

  it('rejects an emit in flight when the connection drops with disconnected, and does not send it again', async () => {
    const { url } = await startRealtime()
    const alice = open(url, await signIn('alice'))
    await alice.client.connect()
    const inFlight = refusal(alice.client.emit('test:hang', {}, { timeoutMs: 20_000 }))
    await until(() => hung.length === 1, { what: 'the server receives the emit' })

    alice.client.socket.io.engine.close()

    expect(await inFlight).toBe('disconnected')
    await until(() => alice.client.connectionState === 'connected', { what: 'reconnected' })
    expect(await alice.client.emit('rt:join', { room: 'lobby' })).toEqual({ room: 'lobby' })
    expect(hung).toHaveLength(1)
  })

  it('refuses emits beyond queueLimit with queue_full and still delivers the queued ones', async () => {
    const { url } = await startRealtime()
    const alice = await inLobby(url, 'alice', { queueLimit: 3 })
    const bob = await inLobby(url, 'bob')
    const received = inbox(bob.client)

    alice.client.socket.io.engine.close()
    const acks = ['a', 'b', 'c'].map((text) =>
      alice.client.emit('chat:send', { room: 'lobby', text }),
    )
    expect(await refusal(alice.client.emit('chat:send', { room: 'lobby', text: 'd' }))).toBe(
      'queue_full',
    )

    await Promise.all(acks)
    await until(() => received.length >= 3, { what: 'bob receives the queued messages' })
    await settle(200)
    expect(received.map((m) => m.text)).toEqual(['a', 'b', 'c'])
  })

  it('after the node restarts on the same port, reconnects, re-joins and sends what was queued, once, in order', async () => {
    const first = await startRealtime()
    const port = Number(new URL(first.url).port)
    const alice = await inLobby(first.url, 'alice')
    const bob = await inLobby(first.url, 'bob')
    const received = inbox(bob.client)

    await stopRealtime(first.server)
    expect(alice.client.connectionState).not.toBe('connected')
    const texts = ['while', 'the', 'node', 'was', 'down']
    const acks = texts.map((text) =>
      alice.client.emit<{ id: string }>('chat:send', { room: 'lobby', text }),
    )

    // Hold alice's handshake until bob is back in lobby, so bob is there to receive.
    let second: RealtimeServer | undefined
    const lobbySize = () => second?.io.of('/').adapter.rooms.get('lobby')?.size ?? 0
    second = (
      await startRealtime(
        {
          middleware: (socket, next) => {
            const token = (socket.handshake.auth as { token?: unknown }).token
            if (typeof token !== 'string' || decodeJwt(token).name !== 'alice') return next()
            until(() => lobbySize() > 0, { timeoutMs: 20_000 }).then(() => next(), next)
          },
        },
        port,
      )
    ).server

    const ids = (await Promise.all(acks)).map((ack) => ack.id)
    await until(() => received.length >= texts.length, { what: 'bob receives the queued messages' })
    await settle(200)

    expect(alice.client.connectionState).toBe('connected')
    expect(received.map((m) => m.text)).toEqual(texts)
    expect(received.map((m) => m.id)).toEqual(ids)
    // The first node said why it closed: unavailable, retried without a new login.
    expect(alice.authRequired).toEqual([])
  })

  it('backs off when the handshake is refused with rate_limited and connects by itself, no sooner than retryAfterMs', async () => {
    // One handshake per 4 s: alice's takes the token, and bob's is refused unless it comes 4 s
    // later (at 1 per second, alice's join round trip on a loaded machine could take that second).
    const { url } = await startRealtime({ limits: { ratePerSecond: 0.25, burst: 1 } })
    // Bob logs in first: a login (a real scrypt hash at the edge) between the two handshakes
    // could take the seconds the bucket needs to refill, and bob would not be refused at all.
    const bobAuth = await signIn('bob')
    await inLobby(url, 'alice')
    // random() = 0: the jittered delay is 0, so only retryAfterMs keeps the retry from coming too soon.
    const bob = open(url, bobAuth, { random: () => 0 })

    await bob.client.connect()

    expect(bob.client.connectionState).toBe('connected')
    // One refusal: the retry waited as asked, so the bucket had refilled.
    expect(bob.connectErrors).toEqual([
      expect.objectContaining({
        code: 'rate_limited',
        retryable: true,
        retryAfterMs: expect.any(Number),
      }),
    ])
    expect(bob.states).toContain('reconnecting')
    expect(bob.authRequired).toEqual([])
  })
})

describe('RealtimeClient: close()', () => {
  it('rejects queued emits with closed, refuses later ones, and does not reconnect', async () => {
    const { url } = await startRealtime()
    const alice = await inLobby(url, 'alice')

    alice.client.socket.io.engine.close()
    const queued = ['x', 'y'].map((text) =>
      refusal(alice.client.emit('chat:send', { room: 'lobby', text })),
    )
    alice.client.close()

    expect(await Promise.all(queued)).toEqual(['closed', 'closed'])
    expect(alice.client.connectionState).toBe('closed')
    expect(await refusal(alice.client.emit('chat:send', { room: 'lobby', text: 'z' }))).toBe(
      'closed',
    )
    await settle(1500)
    expect(alice.connects()).toBe(1)
    expect(alice.client.socket.connected).toBe(false)
  })

  it('leaves no timers or sockets behind: a Node process that used and closed a client exits on its own', async () => {
    const { url } = await startRealtime()
    const script = fileURLToPath(new URL('./fixtures/close-and-exit.ts', import.meta.url))
    const child = spawn(process.execPath, [script, edge.url, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    // The script's ack timeout is 120 s and its token refresh falls due in ~5 s:
    // a leaked timer would keep it alive well past this bound.
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
    clearTimeout(killer)

    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null })
    expect(JSON.parse(stdout)).toEqual({
      sent: { id: expect.any(String) },
      queued: 'closed',
      states: ['closed', 'closed'],
    })
  })
})
