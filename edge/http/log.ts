import { createMiddleware } from 'hono/factory'
import { routePath } from 'hono/route'
import type { AppEnv } from '../types.ts'

type Level = 'info' | 'warn' | 'error'

/**
 * Write one structured log line. Callers pass names and codes, never request
 * bodies, tokens, hashes or keys.
 */
export function log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ level, msg, ...fields })
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else console.log(line)
}

/**
 * One line per request: method, matched route (not the raw path, so ids and
 * query strings never reach the log), status and duration.
 */
export const requestLog = createMiddleware<AppEnv>(async function requestLog(c, next) {
  const started = performance.now()
  await next()
  log(c.res.status >= 500 ? 'error' : 'info', 'request', {
    method: c.req.method,
    route: routePath(c, -1),
    status: c.res.status,
    ms: Math.round((performance.now() - started) * 10) / 10,
  })
})
