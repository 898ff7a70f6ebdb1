/**
 * Bounded waits and recorders for realtime tests, on top of `support.ts`:
 * poll a condition or retry an assertion instead of sleeping, capture a
 * disconnect reason, record every occurrence of an event, and send an
 * envelope expecting its ack.
 */
import type { Socket } from 'socket.io-client'

/** Resolve once `condition()` holds (it may be async: a metric read, an HTTP probe); reject after `timeoutMs`. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 5000, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/**
 * Resolve with `check()`'s value once it stops throwing (it may hold `expect`s);
 * after `timeoutMs`, reject naming `what`, with the last failure as the cause.
 */
export async function untilPasses<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 5000, what = 'check' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await check()
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`${what} not met within ${timeoutMs} ms`, { cause: err })
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/**
 * For tests that nothing keeps the process alive after cleanup: wait until no
 * TCP server or socket is open (earlier tests' connections finish closing in
 * the background), note the pending timers, and return counters of what is
 * open since and `gone()`, which waits until every server, socket and timer
 * beyond those is gone.
 */
export async function leakProbe(): Promise<{
  network: () => number
  newTimers: () => number
  gone: () => Promise<void>
}> {
  const count = (kind: string) => process.getActiveResourcesInfo().filter((a) => a === kind).length
  const network = () => count('TCPServerWrap') + count('TCPSocketWrap')
  await until(() => network() === 0, { what: 'no server or socket open' })
  const timers = count('Timeout')
  return {
    network,
    newTimers: () => count('Timeout') - timers,
    gone: () =>
      until(() => network() === 0 && count('Timeout') <= timers, {
        what: 'every server, socket and timer gone',
      }),
  }
}

/** Wait `ms`, for the few assertions that something did NOT happen. */
export function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Resolve with the reason of the socket's next disconnect (bounded). */
export function disconnection(socket: Socket, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no disconnect within ${timeoutMs} ms`)),
      timeoutMs,
    )
    socket.once('disconnect', (reason) => {
      clearTimeout(timer)
      resolve(reason)
    })
  })
}

/** Every occurrence of `event` on `socket`, in arrival order, from now on. */
export function record<T = any>(socket: Socket, event: string): T[] {
  const seen: T[] = []
  socket.on(event, (payload: T) => seen.push(payload))
  return seen
}

/**
 * Every server event and the disconnect, as `[name, payload]` in arrival
 * order, so a test can assert what came before what.
 */
export function timeline(socket: Socket): [string, unknown][] {
  const seen: [string, unknown][] = []
  socket.onAny((event: string, payload: unknown) => seen.push([event, payload]))
  socket.on('disconnect', (reason) => seen.push(['disconnect', reason]))
  return seen
}

/** Emit with an ack, rejecting if none arrives within 5 s. */
export function request<T = any>(socket: Socket, event: string, ...args: unknown[]): Promise<T> {
  return socket.timeout(5000).emitWithAck(event, ...args) as Promise<T>
}
