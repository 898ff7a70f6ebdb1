import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server, type Socket as ServerSocket } from 'socket.io'
import { afterEach, describe, expect, it } from 'vitest'
import { CHAT_TEXT_MAX_CHARS } from '../../../shared/constants.ts'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { record, request, until } from '../waits.ts'
import { rawConnect } from './raw-client.ts'

afterEach(cleanup)

/** Generous: the machine is shared and loaded. */
const DEADLINE_MS = 90_000

/** The server side of the next connection, and why it closed once it has. */
function nextServerSocket(server: Awaited<ReturnType<typeof startServer>>['server']) {
  const seen: { socket?: ServerSocket; reason?: string } = {}
  server.io.once('connection', (socket) => {
    seen.socket = socket
    socket.on('disconnect', (reason) => (seen.reason = reason))
  })
  return seen
}

describe('slow consumers', () => {
  it(
    'closes a socket that stops reading (and pongs unasked) once over the bound; the others keep chatting',
    async () => {
      const issuer = await startIssuer()
      const logs: [string, string, Record<string, unknown> | undefined][] = []
      const { server, url } = await startServer(issuer, {
        messageRate: { perSecond: 100_000, burst: 100_000 },
        logger: (level, msg, fields) => logs.push([level, msg, fields]),
      })
      const slowSide = nextServerSocket(server)
      const slow = await rawConnect(url, { token: await issuer.mint() })
      slow.emit('rt:join', envelope({ room: 'lobby' }), 1)
      expect(await slow.ack(1)).toEqual({ ok: true, data: { room: 'lobby' } })
      // Stop reading; keep the heartbeat "alive" with pongs nobody asked for.
      ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
      const pong = setInterval(() => slow.send('3'), 500)

      const token = await issuer.mint({ sub: 'user-2', sid: 'session-2' })
      const [a, b, reader] = await Promise.all(
        [1, 2, 3].map(() => connect(url, { auth: { token } })),
      )
      for (const s of [a!, b!, reader!]) await request(s, 'rt:join', envelope({ room: 'lobby' }))
      const received = record(reader!, 'chat:message')
      const text = 'x'.repeat(CHAT_TEXT_MAX_CHARS)
      let sent = 0
      const chat = async (s: typeof a) => {
        const reply = await request(s!, 'chat:send', envelope({ room: 'lobby', text }))
        expect(reply.ok).toBe(true)
        sent++
      }
      try {
        const deadline = Date.now() + DEADLINE_MS
        while (slowSide.reason === undefined && Date.now() < deadline) {
          await Promise.all(Array.from({ length: 20 }, (_, i) => chat(i % 2 ? a : b)))
        }
      } finally {
        clearInterval(pong)
      }
      expect(slowSide.reason).toBeDefined()
      const metrics = await server.metrics.registry.getSingleMetricAsString(
        'realtime_slow_consumer_disconnects_total',
      )
      expect(metrics).toContain('realtime_slow_consumer_disconnects_total 1')
      expect(server.io.of('/').sockets.has(slowSide.socket!.id)).toBe(false)
      const logged = logs.filter(([, msg]) => msg === 'slow consumer disconnected')
      expect(logged).toEqual([
        [
          'warn',
          'slow consumer disconnected',
          { queuedBytes: expect.any(Number), transport: 'websocket' },
        ],
      ])
      expect(logged[0]![2]!.queuedBytes).toBeGreaterThan(1024 * 1024)
      // Nothing that identifies a credential or an Engine.IO session id.
      const slowToken = slowSide.socket!.handshake.auth.token as string
      expect(JSON.stringify(logs)).not.toContain(slowToken)
      expect(JSON.stringify(logs)).not.toContain(
        (slowSide.socket!.conn as unknown as { id: string }).id,
      )

      // Everyone else chats on: every message reaches the reader.
      for (let i = 0; i < 10; i++) await chat(i % 2 ? a : b)
      await until(() => received.length === sent, {
        timeoutMs: 30_000,
        what: 'every message received',
      })
      expect(a!.connected && b!.connected && reader!.connected).toBe(true)
    },
    DEADLINE_MS + 30_000,
  )
})

describe('heartbeat', () => {
  it('ignores pongs that answer no ping: a client that only pongs unasked is timed out', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, {
      heartbeat: { pingIntervalMs: 300, pingTimeoutMs: 300 },
    })
    const side = nextServerSocket(server)
    const raw = await rawConnect(url, { token: await issuer.mint() })
    // Pong unasked until the first ping arrives, then stay silent. Before the
    // fix each pong pushed the ping back, so none was ever sent.
    const pong = setInterval(() => raw.send('3'), 50)
    try {
      await until(() => raw.frames.includes('2'), { timeoutMs: 20_000, what: 'a ping' })
    } finally {
      clearInterval(pong)
    }
    await until(() => side.reason !== undefined, { timeoutMs: 20_000, what: 'server-side close' })
    expect(side.reason).toBe('ping timeout')
    await until(() => raw.closed(), { timeoutMs: 20_000, what: 'client sees the close' })
  }, 60_000)

  it('keeps a stock client, which answers each ping, connected across many pings', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, {
      heartbeat: { pingIntervalMs: 100, pingTimeoutMs: 2000 },
    })
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    let pings = 0
    socket.io.engine.on('ping', () => pings++)
    await until(() => pings >= 5, { timeoutMs: 20_000, what: 'five pings' })
    expect(socket.connected).toBe(true)
  }, 30_000)
})

describe('the guard is per server', () => {
  it('closes a guarded connection at its bound at once, and leaves an unguarded server in the same process alone', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, { maxQueuedBytesPerSocket: 64 * 1024 })
    const guardedSide = nextServerSocket(server)
    const client = await rawConnect(url, { token: await issuer.mint() })
    await until(() => guardedSide.socket !== undefined)
    // A plain Socket.IO server beside it: the guard's engine.io seam is process-wide.
    const http = createServer()
    const plain = new Server(http)
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    const plainSide = new Promise<ServerSocket>((resolve) => plain.once('connection', resolve))
    const plainClient = await rawConnect(
      `http://127.0.0.1:${(http.address() as AddressInfo).port}`,
      {},
    )
    try {
      const unguarded = await plainSide
      const chunk = 'x'.repeat(40 * 1024)
      // Each emit is counted as engine.io creates the packet: the second is past 64 KiB.
      guardedSide.socket!.emit('big', chunk)
      expect(guardedSide.socket!.conn.readyState).toBe('open')
      guardedSide.socket!.emit('big', chunk)
      expect(guardedSide.socket!.conn.readyState).not.toBe('open')
      for (let i = 0; i < 4; i++) unguarded.emit('big', chunk)
      expect(unguarded.conn.readyState).toBe('open')
      const metrics = await server.metrics.registry.getSingleMetricAsString(
        'realtime_slow_consumer_disconnects_total',
      )
      expect(metrics).toContain('realtime_slow_consumer_disconnects_total 1')
    } finally {
      client.ws.close()
      plainClient.ws.close()
      await new Promise<void>((resolve) => plain.close(() => resolve()))
    }
  })
})
