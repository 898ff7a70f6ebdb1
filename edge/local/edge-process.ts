import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { forwardQuietly } from './quiet-output.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js')

/** Options of {@link startEdge}. */
export interface EdgeProcessOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 8787 */
  port?: number
  /** Local persistence (D1, Durable Objects, the key-encryption key). @default '.state' */
  stateDir?: string
  /**
   * Worker variables (e.g. `ACCESS_TOKEN_TTL`, `REFRESH_LIMIT_PER_SESSION`): they override
   * wrangler.toml's `[vars]`, and any other variable the edge reads (docs/configuration.md).
   * Not for secrets: they are passed on wrangler's command line.
   */
  vars?: Record<string, string>
  /** Admin API token. @default 'dev-admin-token' */
  adminToken?: string
  /** Revocation feed token. @default 'dev-feed-token' */
  feedToken?: string
  /**
   * SQL run against the local D1 after the migrations and before the worker
   * starts (local seeding, e.g. the demo service client). @default none
   */
  seedSql?: string
  /**
   * `stateDir` already holds the migrated (and seeded) D1: a copy of a directory
   * {@link prepareEdgeState} made. Skips the migrations and `seedSql`, seconds of wrangler
   * per start (tests start dozens of edges from one prepared copy). @default false
   */
  migrated?: boolean
  /**
   * Where wrangler's output goes: this process's stdout and stderr, without
   * routine request lines (see quiet-output.ts), or nowhere. @default 'inherit'
   */
  stdio?: 'inherit' | 'ignore'
  /** With `stdio: 'inherit'`, receives each kept line instead of this process's streams. */
  output?: (line: string) => void
}

/** A running local edge. */
export interface EdgeProcess {
  url: string
  port: number
  stateDir: string
  adminToken: string
  feedToken: string
  /** Run the cron trigger's work now (key rotation, pruning), as production's cron does. */
  runCron(): Promise<void>
  /** Stop wrangler and workerd; resolves when they have exited. */
  stop(): Promise<void>
}

/**
 * Start the edge locally under `wrangler dev` with persistence in
 * `stateDir`: the key-encryption key is created there once (so keys survive a
 * restart), D1 migrations are applied, and secrets reach the worker through a
 * mode-600 env file in `stateDir`, never the command line.
 *
 * @param options - {@link EdgeProcessOptions}
 * @example
 * ```ts
 * const edge = await startEdge({ port: 0, stateDir: await mkdtemp(join(tmpdir(), 'edge-')) })
 * await fetch(`${edge.url}/.well-known/jwks.json`)
 * await edge.stop()
 * ```
 */
export async function startEdge(options: EdgeProcessOptions = {}): Promise<EdgeProcess> {
  const stateDir = resolve(ROOT, options.stateDir ?? '.state')
  const adminToken = options.adminToken ?? 'dev-admin-token'
  const feedToken = options.feedToken ?? 'dev-feed-token'
  const stdio: Output = options.stdio === 'ignore' ? 'ignore' : (options.output ?? 'inherit')
  if (options.migrated) await mkdir(stateDir, { recursive: true, mode: 0o700 })
  else await migrate(stateDir, options.seedSql, stdio)

  // A free port is only free until someone binds it: pick it after the migrations (seconds),
  // right before wrangler dev binds it. If wrangler still exits before it is ready on a port
  // we picked (another process took it, or the inspector's, in between), pick again once.
  const envFile = join(stateDir, 'edge.env')
  const kek = await localKek(stateDir)
  const launch = async (port: number) => {
    const url = `http://127.0.0.1:${port}`
    const secrets: Record<(typeof SECRET_NAMES)[number], string> = {
      ADMIN_TOKEN: adminToken,
      REVOCATION_FEED_TOKEN: feedToken,
      KEY_ENCRYPTION_KEY: kek,
    }
    await writeFile(
      envFile,
      Object.entries(secrets)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join('\n') + '\n',
      { mode: 0o600 },
    )
    // Plain variables go on the command line: wrangler takes from an env file only the names
    // wrangler.toml declares ([vars] and [secrets]), and silently drops the rest (such as
    // REFRESH_LIMIT_PER_SESSION, which docs/configuration.md lists but wrangler.toml leaves out).
    const vars = Object.entries({ ISSUER: url, ...options.vars }).flatMap(([k, v]) => [
      '--var',
      `${k}:${v}`,
    ])
    const tail: string[] = []
    const child = wrangler(
      [
        'dev',
        '--local',
        '--ip',
        '127.0.0.1',
        '--port',
        String(port),
        '--persist-to',
        stateDir,
        '--env-file',
        envFile,
        ...vars,
        '--test-scheduled',
        '--show-interactive-dev-session=false',
        '--inspector-port',
        String(await freePort()),
      ],
      stdio,
      (line) => {
        tail.push(line)
        if (tail.length > STARTUP_TAIL_LINES) tail.shift()
      },
    )
    const exited = once(child, 'exit')
    const stop = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      killGroup(child, 'SIGTERM')
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    try {
      await waitForHealth(url, child, tail)
    } catch (err) {
      await stop()
      throw err
    }
    return { url, port, stop }
  }
  let started: Awaited<ReturnType<typeof launch>>
  try {
    started = await launch(options.port === 0 ? await freePort() : (options.port ?? 8787))
  } catch (err) {
    if (options.port !== 0 || !(err instanceof ExitedEarly)) throw err
    started = await launch(await freePort())
  }
  const { url, port, stop } = started
  return {
    url,
    port,
    stateDir,
    adminToken,
    feedToken,
    async runCron() {
      const res = await fetch(`${url}/__scheduled?cron=${encodeURIComponent('*/5 * * * *')}`)
      await res.body?.cancel()
    },
    stop,
  }
}

/**
 * Apply the D1 migrations (and `seedSql`) to a local state directory without starting the
 * edge: a directory to copy for each of many edges, started with `migrated: true`.
 *
 * @param stateDir - created if missing
 * @param options - `seedSql`: run after the migrations; `stdio`: where wrangler's output goes
 * @example
 * ```ts
 * await prepareEdgeState(template, { seedSql: await demoUsersSql(), stdio: 'ignore' })
 * await cp(template, stateDir, { recursive: true })
 * const edge = await startEdge({ port: 0, stateDir, migrated: true })
 * ```
 */
export async function prepareEdgeState(
  stateDir: string,
  options: Pick<EdgeProcessOptions, 'seedSql' | 'stdio'> = {},
): Promise<void> {
  await migrate(resolve(ROOT, stateDir), options.seedSql, options.stdio ?? 'inherit')
}

async function migrate(stateDir: string, seedSql: string | undefined, stdio: Output) {
  await mkdir(stateDir, { recursive: true, mode: 0o700 })
  await run(['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', stateDir], stdio)
  if (seedSql) {
    await run(
      ['d1', 'execute', 'DB', '--local', '--persist-to', stateDir, '--command', seedSql],
      'ignore',
    )
  }
}

/** The key-encryption key of this state directory, created on first use. */
async function localKek(stateDir: string): Promise<string> {
  const file = join(stateDir, 'kek')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch {
    const kek = randomBytes(32).toString('base64url')
    await writeFile(file, kek + '\n', { mode: 0o600, flag: 'wx' }).catch(() => undefined)
    return (await readFile(file, 'utf8')).trim()
  }
}

/** The worker's secrets (wrangler.toml `[secrets] required`), written to the env file only. */
const SECRET_NAMES = ['ADMIN_TOKEN', 'REVOCATION_FEED_TOKEN', 'KEY_ENCRYPTION_KEY'] as const

function withoutKeys(env: NodeJS.ProcessEnv, names: readonly string[]): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !names.includes(k)))
}

/** Lines of wrangler dev's output kept for the error when it exits before it is ready. */
const STARTUP_TAIL_LINES = 30

/** Where a wrangler child's output goes: nowhere, our own streams, or a line sink. */
type Output = 'inherit' | 'ignore' | ((line: string) => void)

function wrangler(
  args: string[],
  stdio: Output,
  keep: (line: string) => void = () => {},
): ChildProcess {
  const child = spawn(process.execPath, [WRANGLER, ...args], {
    cwd: ROOT,
    // Always piped: what wrangler said is kept (`keep`) for the error if it exits early.
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: {
      // wrangler lets the environment override the env file: the secrets are this edge's own.
      ...withoutKeys(process.env, SECRET_NAMES),
      CI: 'true',
      NO_COLOR: '1',
      // No calls home (wrangler's system environment variables, developers.cloudflare.com/
      // workers/wrangler/system-environment-variables): no usage metrics, and no download of
      // the `request.cf` sample from workers.cloudflare.com, which offline printed a
      // getaddrinfo stack trace twice per start (Miniflare's placeholder is used instead;
      // the edge reads no `request.cf` field).
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
    },
  })
  const sink = (stream: 'stdout' | 'stderr') => (line: string) => {
    keep(line.trimEnd())
    if (stdio === 'ignore') return
    if (typeof stdio === 'function') stdio(line)
    else process[stream].write(line)
  }
  forwardQuietly(child.stdout!, sink('stdout'))
  forwardQuietly(child.stderr!, sink('stderr'))
  return child
}

async function run(args: string[], stdio: Output): Promise<void> {
  const child = wrangler(args, stdio)
  const [code] = (await once(child, 'exit')) as [number | null]
  if (code !== 0) throw new Error(`wrangler ${args.slice(0, 3).join(' ')} exited with ${code}`)
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal)
  } catch {
    // Already gone.
  }
}

/** wrangler dev exited before its health check answered; the message ends with what it said. */
class ExitedEarly extends Error {
  override name = 'ExitedEarly'
}

async function waitForHealth(url: string, child: ChildProcess, tail: string[]): Promise<void> {
  const deadline = Date.now() + 90_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new ExitedEarly(
        `wrangler dev exited with ${child.exitCode} before it was ready; its last lines:\n${tail.join('\n')}`,
      )
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })
      if (res.ok) return
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`edge at ${url} not healthy after 90 s`)
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}
