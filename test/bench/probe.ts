/**
 * An idle Node process that only measures its own event-loop delay, as a
 * child of the bench: the machine's share of a server's delay (a busy
 * neighbour delays every process's timers alike).
 *
 *   node test/bench/probe.ts      (IPC: loop-start, loop-stop, shutdown)
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

/** Sampling period, ms (as in the servers). */
const LOOP_RESOLUTION_MS = 10

const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS })
const lag = (q: number) => Math.max(0, loop.percentile(q) / 1e6 - LOOP_RESOLUTION_MS)
const commands: Record<string, () => unknown> = {
  'loop-start': () => {
    loop.reset()
    loop.enable()
    return true
  },
  'loop-stop': () => {
    loop.disable()
    return {
      p50Ms: lag(50),
      p99Ms: lag(99),
      maxMs: Math.max(0, loop.max / 1e6 - LOOP_RESOLUTION_MS),
    }
  },
  shutdown: () => {
    setImmediate(() => process.exit(0))
    return true
  },
}
process.on('message', (message: { id: number; cmd: string }) => {
  process.send!({ id: message.id, result: commands[message.cmd]!() })
})
process.on('disconnect', () => process.exit(0))
process.send!({ id: 0, result: { pid: process.pid } })
