/**
 * One server under test, as a child process of the bench:
 *
 *   node [--expose-gc] [--cpu-prof] test/bench/server.ts <variant>
 *
 * with BENCH_ISSUER, BENCH_JWKS_URL and BENCH_PUBLIC_PEM in the environment.
 * Every variant serves the same `bench` and `fanout` events (ack `{ ok: true }`) on
 * 127.0.0.1, port 0, and answers the parent over IPC: `ready` with its port,
 * then `mem` (RSS after gc), `cpu` (CPU time used, µs), `cpus` (the process's and its main thread's), `signature-checks` (edgegate's count), `fds` (descriptors open), `loop-start`/`loop-stop` (event-loop delay and
 * CPU over a window), `count` (connected sockets) and `shutdown`.
 */
import { readdirSync } from 'node:fs'
import { createServer } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { writeHeapSnapshot } from 'node:v8'
import type { AddressInfo } from 'node:net'
import jwt from 'jsonwebtoken'
import { authorize } from 'socketio-jwt'
import { Server, type Socket } from 'socket.io'
import * as v from 'valibot'
import { defineEvent } from '../../realtime/messages/registry.ts'
import { CoalescingWebSocketServer } from '../../realtime/engine/coalescing-ws.ts'
import { createRealtimeServer } from '../../realtime/server.ts'
import { FANOUT_QUERY, FANOUT_ROOM } from './lib/fanout.ts'

/** The server variants the bench compares. */
export const VARIANTS = [
  'edgegate',
  'edgegate-required',
  'plain',
  'plain-coalescing',
  'socketio-jwt',
  'tutorial',
  'naive',
  'presence',
  'presence-naive',
] as const
export type Variant = (typeof VARIANTS)[number]

/** Event-loop delay sampling period, ms (as the service's own metric). */
const LOOP_RESOLUTION_MS = 10

/**
 * The bench's registered events: `bench`, a tiny schema, no scope, a handler
 * that returns nothing; `fanout`, the same schema, its data broadcast to the
 * fan-out room as `fan`.
 */
export const benchEvents = {
  bench: defineEvent({ schema: v.object({ n: v.number() }), handler: () => {} }),
  fanout: defineEvent({
    schema: v.object({ n: v.number() }),
    handler: ({ data, io }) => {
      // `fan` is the bench's own event, outside the contract's typed event map.
      ;(io as unknown as Server).to(FANOUT_ROOM).emit('fan', data)
    },
  }),
}

/** Sockets whose handshake asks for it join the fan-out room, the same way on every variant. */
function joinFanoutRoom(socket: Socket): void {
  if (socket.handshake.query.fanout === FANOUT_QUERY.fanout) void socket.join(FANOUT_ROOM)
}

/** Raised limits so that only the work, not admission control, is measured. */
export const BENCH_LIMITS = { ratePerSecond: 1e6, burst: 1e6, perAddress: 1e6, perUser: 1e6 }
/** Raised per-socket message rate (the default is 20/s, burst 40). */
export const BENCH_MESSAGE_RATE = { perSecond: 1e9, burst: 1e9 }

type Ack = (reply: unknown) => void

async function start(variant: Variant): Promise<{
  port: number
  count: () => number
  close: () => Promise<void>
  /** Signatures checked so far (edgegate only: the others keep no count). */
  signatureChecks?: () => Promise<number>
}> {
  const issuer = process.env.BENCH_ISSUER!
  const publicPem = process.env.BENCH_PUBLIC_PEM!
  if (variant === 'presence' || variant === 'presence-naive') return startPresence(variant, issuer)
  if (variant === 'edgegate' || variant === 'edgegate-required') {
    const server = createRealtimeServer({
      issuer,
      jwksUrl: process.env.BENCH_JWKS_URL!,
      events: benchEvents,
      requireEnvelopeToken: variant === 'edgegate-required',
      // A second issuer (test/bench/issuers.ts), as TRUSTED_ISSUERS would configure it.
      ...(process.env.BENCH_TRUSTED_ISSUERS && {
        trustedIssuers: JSON.parse(process.env.BENCH_TRUSTED_ISSUERS),
      }),
      messageRate: BENCH_MESSAGE_RATE,
      limits: BENCH_LIMITS,
    })
    const { port } = await server.listen(0, '127.0.0.1')
    const waiting = () => server.notReadyReasons()
    for (let i = 0; i < 500 && waiting().length > 0; i++)
      await new Promise((r) => setTimeout(r, 20))
    if (waiting().length > 0) throw new Error(`not ready: ${waiting().join(', ')}`)
    // After edgegate's own listener, which admits the socket (or disconnects it).
    server.io.of('/').on('connection', (socket) => socket.connected && joinFanoutRoom(socket))
    return {
      port,
      count: () => server.io.of('/').sockets.size,
      close: () => server.close({ timeoutMs: 2000 }),
      signatureChecks: async () =>
        (await server.metrics.signatureChecks.get()).values.reduce((sum, x) => sum + x.value, 0),
    }
  }

  const httpServer = createServer()
  const io = new Server(httpServer, {
    serveClient: false,
    perMessageDeflate: false,
    httpCompression: false,
    // The peer that writes as well as edgegate does: the same per-tick write coalescing.
    ...(variant === 'plain-coalescing' && { wsEngine: CoalescingWebSocketServer }),
  })
  // The tutorial middleware: token from the handshake auth, PEM public key, jsonwebtoken.verify.
  const tutorial = (socket: Socket, next: (err?: Error) => void) => {
    try {
      ;(socket.data as { user?: unknown }).user = jwt.verify(
        String(socket.handshake.auth.token),
        publicPem,
        {
          algorithms: ['ES256'],
        },
      )
      next()
    } catch {
      next(new Error('Authentication error'))
    }
  }
  // socketio-jwt passes its options through to jsonwebtoken.verify; its types omit `algorithms`.
  const socketioJwtOptions = { secret: publicPem, handshake: true, algorithms: ['ES256'] }
  if (variant === 'socketio-jwt') io.use(authorize(socketioJwtOptions) as never)
  if (variant === 'tutorial' || variant === 'naive') io.use(tutorial)
  io.on('connection', (socket) => {
    joinFanoutRoom(socket)
    socket.on('fanout', (envelope: { data?: unknown }, ack?: Ack) => {
      io.to(FANOUT_ROOM).emit('fan', envelope?.data)
      ack?.({ ok: true })
    })
    if (variant === 'naive') {
      // Re-verify the JWT signature on every message.
      socket.on('bench', (envelope: { token?: unknown }, ack?: Ack) => {
        try {
          jwt.verify(String(envelope?.token), publicPem, { algorithms: ['ES256'] })
          ack?.({ ok: true })
        } catch {
          ack?.({ ok: false, error: { code: 'token_invalid' } })
        }
      })
    } else {
      socket.on('bench', (_envelope: unknown, ack?: Ack) => ack?.({ ok: true }))
    }
  })
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  return {
    port: (httpServer.address() as AddressInfo).port,
    count: () => io.of('/').sockets.size,
    close: () => new Promise<void>((resolve) => io.close(() => resolve())),
  }
}

/** The room every socket of the presence section is put in. */
export const PRESENCE_BENCH_ROOM = 'bench-room'

/**
 * The presence section's servers: edgegate with its presence (batches), or
 * the hand-rolled way, which broadcasts every join and leave to the room
 * (edgegate's presence tracking off there: `maxRooms: 0`). Each socket is
 * put in the room as it connects.
 */
async function startPresence(variant: 'presence' | 'presence-naive', issuer: string) {
  const naive = variant === 'presence-naive'
  const server = createRealtimeServer({
    issuer,
    jwksUrl: process.env.BENCH_JWKS_URL!,
    events: benchEvents,
    messageRate: BENCH_MESSAGE_RATE,
    limits: BENCH_LIMITS,
    presence: naive ? { maxRooms: 0 } : {},
  })
  const room = PRESENCE_BENCH_ROOM
  // The hand-rolled events are not in the contract's typed event map.
  const untyped = server.io as unknown as Server
  // After the service's own connection listener, which authenticates the socket.
  server.io.of('/').on('connection', (socket) => {
    const { sub, name } = socket.data.auth
    void socket.join(room)
    if (!naive) return
    untyped.to(room).emit('presence:joined', { room, sub, name })
    socket.on('disconnect', () => untyped.to(room).emit('presence:left', { room, sub }))
  })
  const { port } = await server.listen(0, '127.0.0.1')
  for (let i = 0; i < 500 && server.notReadyReasons().length > 0; i++)
    await new Promise((r) => setTimeout(r, 20))
  return {
    port,
    count: () => server.io.of('/').sockets.size,
    close: () => server.close({ timeoutMs: 5000 }),
  }
}

const variant = process.argv[2] as Variant
if (!VARIANTS.includes(variant))
  throw new TypeError(`variant must be one of ${VARIANTS.join(', ')}`)
const server = await start(variant)
const gc = (globalThis as { gc?: () => void }).gc
const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
/** The monotonic clock in µs, as V8 stamps profile samples. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)
let window = { cpu: process.cpuUsage(), at: performance.now(), fromUs: monotonicUs() }

const commands: Record<string, () => Promise<unknown> | unknown> = {
  async mem() {
    for (let i = 0; i < 3 && gc; i++) {
      gc()
      await new Promise((r) => setImmediate(r))
    }
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
    return { rss, heapUsed, external, arrayBuffers, gc: Boolean(gc) }
  },
  count: () => server.count(),
  'signature-checks': () => server.signatureChecks?.() ?? null,
  /** Write a heap snapshot (to find what a socket costs); returns its path. */
  snapshot: () => writeHeapSnapshot(),
  /** The profile clock now (µs), to bound a `--cpu-prof` summary to the measured work. */
  clock: () => monotonicUs(),
  cpu: () => {
    const { user, system } = process.cpuUsage()
    return user + system
  },
  /** CPU time used (µs) by the process and by its main thread alone (JavaScript, without V8's compiler and GC helpers), read together. */
  cpus: () => {
    const all = process.cpuUsage()
    const main = process.threadCpuUsage()
    return { process: all.user + all.system, main: main.user + main.system }
  },
  fds: () => readdirSync('/proc/self/fd').length,
  'loop-start'() {
    loop.reset()
    loop.enable()
    window = { cpu: process.cpuUsage(), at: performance.now(), fromUs: monotonicUs() }
    return true
  },
  'loop-stop'() {
    loop.disable()
    const cpu = process.cpuUsage(window.cpu)
    const ms = performance.now() - window.at
    // The histogram records the interval between samples: subtract the period to get the delay.
    const lag = (q: number) => Math.max(0, loop.percentile(q) / 1e6 - LOOP_RESOLUTION_MS)
    return {
      p50Ms: lag(50),
      p99Ms: lag(99),
      maxMs: Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS),
      cpuPercent: ((cpu.user + cpu.system) / 1000 / ms) * 100,
      // On the clock of a --cpu-prof profile's timestamps, to summarize just this window.
      window: { fromUs: window.fromUs, toUs: monotonicUs() },
    }
  },
  async shutdown() {
    await server.close()
    setImmediate(() => process.exit(0))
    return true
  },
}

process.on('message', async (message: { id: number; cmd: string }) => {
  try {
    const result = await commands[message.cmd]!()
    process.send!({ id: message.id, result })
  } catch (err) {
    process.send!({ id: message.id, error: String(err) })
  }
})
process.on('disconnect', () => process.exit(0))
process.send!({ id: 0, result: { port: server.port } })
