import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const MAIN = fileURLToPath(new URL('../../realtime/main.ts', import.meta.url))

/** A running realtime node started by {@link startRealtime}. */
export interface RealtimeProcess {
  url: string
  port: number
  /** SIGTERM (the service drains), then wait for exit. */
  stop(): Promise<number | null>
}

/**
 * Start a realtime node as a child process (`node realtime/main.ts`) and wait
 * until `/readyz` says it has loaded the edge's keys (or, with
 * `waitFor: 'alive'`, until `/healthz` answers, for a node whose
 * dependencies are down on purpose).
 *
 * @param env - its environment variables (REALTIME_PORT, EDGE_URL, …), on top of this process's
 * @param options - `stdio` for its logs (default 'inherit'); `waitFor` (default 'ready');
 *   `nodeArgs`, flags for node before the script (e.g. `--cpu-prof`; default none)
 */
export async function startRealtime(
  env: Record<string, string>,
  options: { stdio?: 'inherit' | 'ignore'; waitFor?: 'ready' | 'alive'; nodeArgs?: string[] } = {},
): Promise<RealtimeProcess & { pid: number; kill(): Promise<void> }> {
  const port = Number(env.REALTIME_PORT ?? 3000)
  const url = `http://127.0.0.1:${port}`
  const stdio = options.stdio ?? 'inherit'
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', stdio, stdio],
  })
  const exited = once(child, 'exit') as Promise<[number | null]>
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    const [code] = await exited
    clearTimeout(timer)
    return code
  }
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await exited
  }
  const probe = options.waitFor === 'alive' ? '/healthz' : '/readyz'
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`realtime exited with ${child.exitCode} before it was ready`)
    try {
      const res = await fetch(`${url}${probe}`, { signal: AbortSignal.timeout(1000) })
      await res.body?.cancel()
      if (res.ok) return { url, port, stop, kill, pid: child.pid! }
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  await stop()
  throw new Error(`realtime at ${url} not ready after 30 s`)
}
