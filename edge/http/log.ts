import { createMiddleware } from 'hono/factory'
import { routePath } from 'hono/route'
import type { AppEnv } from '../types.ts'
import { QUIET_ROUTES } from './quiet-routes.ts'

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
 * query strings never reach the log), status and duration. Successful
 * answers on {@link QUIET_ROUTES} are left out; their refusals and failures
 * are not.
 */
export const requestLog = createMiddleware<AppEnv>(async function requestLog(c, next) {
  const started = performance.now()
  await next()
  const route = routePath(c, -1)
  const status = c.res.status
  if (status < 400 && QUIET_ROUTES.has(`${c.req.method} ${route}`)) return
  log(status >= 500 ? 'error' : 'info', 'request', {
    method: c.req.method,
    route,
    status,
    ms: Math.round((performance.now() - started) * 10) / 10,
  })
})
