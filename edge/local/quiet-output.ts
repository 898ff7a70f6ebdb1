import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { QUIET_ROUTES } from '../http/quiet-routes.ts'

/**
 * Routes only a local run calls routinely: `npm start` fires the cron trigger
 * through wrangler's `/__scheduled` every five minutes.
 */
const LOCAL_QUIET_ROUTES = new Set(['GET /__scheduled'])

/** wrangler dev's own line per request: `[wrangler:info] GET /path?query 200 OK (12ms)`. */
const REQUEST_LINE = /^\[wrangler:info\] ([A-Z]+) (\S+) (\d{3})\b/

/**
 * Whether a line of `wrangler dev` output is routine noise: wrangler's
 * request line for a successful answer on a route polled all the time (every
 * realtime node polls the revocation feed every few seconds). The worker
 * already leaves those out of its own log (edge/http/log.ts, same list); wrangler logs
 * every request again on its own, which is what flooded `npm start`.
 * Refusals and failures on the same routes (status 400 and up) are kept.
 *
 * @param line - one line of wrangler's output, without its newline
 */
export function isRoutineLine(line: string): boolean {
  const match = REQUEST_LINE.exec(line)
  if (!match) return false
  const [, method, target, status] = match
  const route = `${method} ${target!.split('?')[0]}`
  return Number(status) < 400 && (QUIET_ROUTES.has(route) || LOCAL_QUIET_ROUTES.has(route))
}

/**
 * Forward a child's output line by line, without the routine lines.
 *
 * @param stream - the child's stdout or stderr
 * @param write - where each kept line goes (with its newline)
 */
export function forwardQuietly(stream: Readable, write: (line: string) => void): void {
  const lines = createInterface({ input: stream, crlfDelay: Infinity })
  lines.on('line', (line) => {
    if (!isRoutineLine(line)) write(`${line}\n`)
  })
}
