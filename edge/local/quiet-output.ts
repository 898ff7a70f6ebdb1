import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'

/** wrangler dev's own line per request: `[wrangler:info] GET /path?query 200 OK (12ms)`. */
const REQUEST_LINE = /^\[wrangler:info\] [A-Z]+ \S+ \d{3}\b/

/**
 * Whether a line of `wrangler dev` output repeats what the worker already
 * logs: wrangler writes its own line for every request, and the worker writes
 * one too (edge/http/log.ts), so every request was logged twice. The worker's
 * is the one production has (with the matched route, never the raw path and
 * query string; polled routes' successes left out, their refusals kept), so
 * wrangler's goes. The demo page's static files, served without the worker,
 * are unlogged locally as in production.
 *
 * @param line - one line of wrangler's output, without its newline
 */
export function isRoutineLine(line: string): boolean {
  return REQUEST_LINE.test(line)
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
