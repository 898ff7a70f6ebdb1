/**
 * Test support for the realtime cluster: a real Redis (our own
 * `redis-server` on a free port, or a shared one on 6379), one real edge
 * under `wrangler dev`, several realtime nodes as separate processes
 * (`node realtime/main.ts`), and one `cleanup()` that stops them all.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { createConnection, createServer as createNetServer, type AddressInfo } from 'node:net'
import { createClient } from 'redis'
import { freePort, startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { startRealtime, type RealtimeProcess } from '../../edge/local/realtime-process.ts'
import { edgeStateDir } from '../support/edge-state.ts'

/** How long Redis may take to answer PING after it is spawned, ms. */
const REDIS_START_TIMEOUT_MS = 10_000
/** The shared Redis used when no `redis-server` binary is installed. */
const SHARED_REDIS = { host: '127.0.0.1', port: 6379 }

const cleanups: (() => Promise<void> | void)[] = []
/** Children still running (Redis, nodes), killed if the worker exits before `cleanup()` ran. */
const children = new Set<ChildProcess>()
const nodePids = new Set<number>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
  for (const pid of nodePids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
})

/** Stop everything the helpers below started, newest first. Each step runs even if an earlier one failed. */
export async function cleanup(): Promise<void> {
  const errors: unknown[] = []
  while (cleanups.length) {
    try {
      await cleanups.pop()!()
    } catch (err) {
      errors.push(err)
    }
  }
  if (errors.length) throw new AggregateError(errors, 'cluster cleanup failed')
}

/** A Redis the test can use, and stop and start again when it owns the process. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>` */
  url: string
  port: number
  /** Whether this is our own `redis-server` (stop/restart work) or the shared 6379 (they throw). */
  owned: boolean
  /** Stop the server (SIGTERM); resolves once it has exited. */
  stop(): Promise<void>
  /** Start it again on the same port (empty: no persistence); resolves once it answers PING. */
  restart(): Promise<void>
  /** Hang it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void
  /** Let a paused server go on (SIGCONT). */
  resume(): void
}

/** A node-redis client, as the realtime service makes them. */
export type TestRedisClient = ReturnType<typeof createClient>

/**
 * A Redis of the test's own ({@link startRedis}) and a client connected to
 * it; {@link cleanup} closes the client, then stops Redis.
 */
export async function connectRedis(): Promise<{ redis: TestRedis; client: TestRedisClient }> {
  const redis = await startRedis()
  const client = createClient({ url: redis.url })
  await client.connect()
  cleanups.push(() => client.destroy())
  return { redis, client }
}

/**
 * Start a Redis for the test. With a `redis-server` binary, spawn our own on
 * a free port with persistence off. Without one, use 127.0.0.1:6379 if it
 * answers PING (then `stop`/`restart` throw, so a test that needs them fails
 * rather than skips). With neither, throw: CI must fail, not skip.
 */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const spawnServer = async (): Promise<ChildProcess | undefined> => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    )
    const spawned = await new Promise<boolean>((resolve, reject) => {
      proc.once('spawn', () => resolve(true))
      proc.once('error', (err: NodeJS.ErrnoException) =>
        err.code === 'ENOENT' ? resolve(false) : reject(err),
      )
    })
    if (!spawned) return undefined
    children.add(proc)
    proc.once('exit', () => children.delete(proc))
    await waitForPing('127.0.0.1', port, proc)
    return proc
  }
  const stopServer = async () => {
    const proc = child
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGTERM')
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }

  child = await spawnServer()
  if (child) {
    cleanups.push(stopServer)
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      owned: true,
      stop: stopServer,
      async restart() {
        await stopServer()
        child = await spawnServer()
      },
      pause: () => void child?.kill('SIGSTOP'),
      resume: () => void child?.kill('SIGCONT'),
    }
  }
  try {
    await waitForPing(SHARED_REDIS.host, SHARED_REDIS.port, undefined, 2000)
  } catch (err) {
    throw new Error(
      `no redis-server binary on PATH and nothing answers PING on ${SHARED_REDIS.host}:${SHARED_REDIS.port}: install Redis (apt-get install redis-server) to run the cluster tests`,
      { cause: err },
    )
  }
  const unsupported = (what: string) => () =>
    Promise.reject(
      new Error(
        `redis ${what} is unsupported: no redis-server binary, so the tests use the shared ${SHARED_REDIS.host}:${SHARED_REDIS.port}, which they must not stop`,
      ),
    )
  return {
    url: `redis://${SHARED_REDIS.host}:${SHARED_REDIS.port}`,
    port: SHARED_REDIS.port,
    owned: false,
    stop: unsupported('stop'),
    restart: unsupported('restart'),
    pause: () => {
      throw new Error(
        'redis pause is unsupported on the shared Redis, which the tests must not stop',
      )
    },
    resume: () => {},
  }
}

/** Resolve once `host:port` answers `+PONG` to `PING`; reject after `timeoutMs` or if `proc` exits. */
async function waitForPing(
  host: string,
  port: number,
  proc?: ChildProcess,
  timeoutMs = REDIS_START_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    if (proc && (proc.exitCode !== null || proc.signalCode !== null)) {
      throw new Error(
        `redis-server on port ${port} exited with ${proc.exitCode ?? proc.signalCode} before answering PING`,
      )
    }
    try {
      if (await ping(host, port)) return
    } catch (err) {
      last = err
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`redis on ${host}:${port} did not answer PING within ${timeoutMs} ms`, {
    cause: last,
  })
}

/** One PING over a fresh connection. */
function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port })
    let reply = ''
    const done = (ok: boolean, err?: Error) => {
      socket.destroy()
      if (err) reject(err)
      else resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
    socket.once('error', (err) => done(false, err))
  })
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** The Redis the nodes share. */
  redisUrl: string
  /** The edge's push targets (REALTIME_URLS), or a function of the nodes' URLs. @default the nodes' URLs */
  realtimeUrls?: string | ((nodeUrls: string[]) => string)
  /** Extra environment for every node. */
  env?: Record<string, string>
  /** Where the edge's and the nodes' logs go. @default 'inherit' when CLUSTER_TEST_LOGS is set, else 'ignore' */
  stdio?: 'inherit' | 'ignore'
}

/** A running edge and its realtime nodes. */
export interface Cluster {
  edge: EdgeProcess
  /** The nodes, by index; {@link Cluster.restart} replaces an entry. */
  nodes: (RealtimeProcess & { pid: number; kill(): Promise<void> })[]
  /** Start node `i` again on its port, with the same environment, and wait until it is ready. */
  restart(i: number): Promise<void>
}

/**
 * Start one edge whose REALTIME_URLS lists `n` free ports (or
 * `options.realtimeUrls`), seed the demo users, then start `n` realtime
 * nodes on those ports, each pulling the feed every 500 ms and sharing
 * `options.redisUrl`. Everything is stopped by {@link cleanup}.
 *
 * @param n - how many nodes
 * @param options - {@link ClusterOptions}
 */
export async function startCluster(n: number, options: ClusterOptions): Promise<Cluster> {
  const stdio = options.stdio ?? (process.env.CLUSTER_TEST_LOGS ? 'inherit' : 'ignore')
  // Held until each node starts, so nothing else takes them while the edge starts.
  const reserved = await Promise.all(Array.from({ length: n }, () => reservePort()))
  cleanups.push(() => Promise.all(reserved.map((r) => r.release())).then(() => undefined))
  const urls = reserved.map(({ port }) => `http://127.0.0.1:${port}`)

  const stateDir = await edgeStateDir('edgegate-cluster-')
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }))
  const edge = await startEdge({
    port: 0,
    stateDir,
    migrated: true,
    stdio,
    vars: {
      REALTIME_URLS:
        typeof options.realtimeUrls === 'function'
          ? options.realtimeUrls(urls)
          : (options.realtimeUrls ?? urls.join(',')),
    },
  })
  cleanups.push(() => edge.stop())

  const envFor = (port: number): Record<string, string> => ({
    REALTIME_PORT: String(port),
    EDGE_URL: edge.url,
    REVOCATION_FEED_TOKEN: edge.feedToken,
    REVOCATION_POLL_MS: '500',
    REDIS_URL: options.redisUrl,
    ALLOWED_ORIGINS: '*',
    LOG_LEVEL: stdio === 'inherit' ? 'debug' : 'warn',
    ...options.env,
  })
  const nodes: Cluster['nodes'] = []
  // Newest first: one cleanup stops whichever process holds each slot at the end.
  cleanups.push(async () => {
    await Promise.all(nodes.map((node) => node.stop()))
  })
  const start = async (port: number): Promise<Cluster['nodes'][number]> => {
    const node = await startRealtime(envFor(port), { stdio, waitFor: 'ready' })
    nodePids.add(node.pid)
    const forget = <T>(result: T): T => {
      nodePids.delete(node.pid)
      return result
    }
    return { ...node, stop: () => node.stop().then(forget), kill: () => node.kill().then(forget) }
  }
  for (const { port, release } of reserved) {
    await release()
    nodes.push(await start(port))
  }

  return {
    edge,
    nodes,
    async restart(i) {
      const node = nodes[i]
      if (!node) throw new TypeError(`no node ${i}`)
      await node.stop()
      nodes[i] = await start(node.port)
    },
  }
}

/** Listen on a free 127.0.0.1 port until `release()` (idempotent). */
async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const server = createNetServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    release: () =>
      server.listening
        ? new Promise<void>((resolve) => server.close(() => resolve()))
        : Promise.resolve(),
  }
}

/** A loopback HTTP server that records every request body, standing in for a push target. */
export interface CaptureServer {
  url: string
  /** Bodies received, oldest first. */
  bodies: string[]
  /** Requests whose connection the caller closed before any answer (with `hang`: the pusher gave up). */
  abandoned: number
}

/**
 * Start a {@link CaptureServer} (stopped by {@link cleanup}). It answers 200,
 * or with `hang` never answers, like a node that accepts connections and then stalls.
 *
 * @param options - `hang` (default false)
 */
export async function startCapture(options: { hang?: boolean } = {}): Promise<CaptureServer> {
  const capture: CaptureServer = { url: '', bodies: [], abandoned: 0 }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      capture.bodies.push(Buffer.concat(chunks).toString('utf8'))
      if (!options.hang)
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"applied":0}')
    })
    res.on('close', () => {
      if (!res.writableFinished) capture.abandoned++
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  capture.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return capture
}
