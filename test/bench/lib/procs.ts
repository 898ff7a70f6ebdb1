/**
 * Child processes of the bench (servers under test, socket holders), each
 * spawned with process.execPath, spoken to over IPC with request/reply
 * messages, bounded in time, and killed when the bench exits.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** A child that answers `{ id, cmd, arg }` with `{ id, result | error }`. */
export interface Child {
  process: ChildProcess
  /** The child's first message (id 0). */
  hello: unknown
  call<T = unknown>(cmd: string, arg?: unknown, timeoutMs?: number): Promise<T>
  /** Ask it to shut down, then kill it if it has not exited after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>
}

/** Options of {@link spawnChild}. */
export interface SpawnOptions {
  args?: string[]
  execArgv?: string[]
  env?: Record<string, string>
  /** Time the child has to send its first message, ms. @default 30_000 */
  startTimeoutMs?: number
  /** What runs the script (a wrapper such as test/bench/instructions.ts's callgrind). @default process.execPath */
  execPath?: string
}

/**
 * Start `script` (a path relative to test/bench/) with process.execPath and wait for its hello.
 */
export async function spawnChild(script: string, options: SpawnOptions = {}): Promise<Child> {
  const child = fork(fileURLToPath(new URL(`../${script}`, import.meta.url)), options.args ?? [], {
    execPath: options.execPath ?? process.execPath,
    execArgv: ['--no-warnings', ...(options.execArgv ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  live.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  void exited.then(() => live.delete(child))
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>()
  let nextId = 1
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(message.id)
    if (!waiter) return
    pending.delete(message.id)
    if (message.error !== undefined) waiter.reject(new Error(`${script}: ${message.error}`))
    else waiter.resolve(message.result)
  })
  void exited.then(() => {
    for (const waiter of pending.values())
      waiter.reject(new Error(`${script} exited (code ${child.exitCode})`))
    pending.clear()
  })

  const request = <T>(id: number, timeoutMs: number, send?: () => void) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${script}: no reply within ${timeoutMs} ms`))
      }, timeoutMs)
      pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      })
      send?.()
    })

  const hello = await request(0, options.startTimeoutMs ?? 30_000).catch((err) => {
    child.kill('SIGKILL')
    throw err
  })
  return {
    process: child,
    hello,
    call(cmd, arg, timeoutMs = 120_000) {
      const id = nextId++
      return request(id, timeoutMs, () => child.send({ id, cmd, arg }))
    },
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      try {
        const id = nextId++
        await request(id, timeoutMs, () => child.send({ id, cmd: 'shutdown' }))
      } catch {
        child.kill('SIGKILL')
      }
      await exited
      clearTimeout(timer)
    },
  }
}

/** Start a server variant; resolves with the child and its base URL. */
export async function spawnServer(
  variant: string,
  env: Record<string, string>,
  execArgv: string[] = [],
  spawn: Pick<SpawnOptions, 'execPath' | 'startTimeoutMs'> = {},
): Promise<{ child: Child; url: string }> {
  // BENCH_SERVER_FLAGS: extra node flags for every server (diagnosis, e.g. --trace-gc).
  const extra = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? []
  const child = await spawnChild('server.ts', {
    args: [variant],
    env,
    execArgv: ['--expose-gc', ...extra, ...execArgv],
    ...spawn,
  })
  return { child, url: `http://127.0.0.1:${(child.hello as { port: number }).port}` }
}
