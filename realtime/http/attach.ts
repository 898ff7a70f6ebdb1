import { getRequestListener } from '@hono/node-server'
import type { Hono } from 'hono'
import type { HttpAppOptions } from './app.ts'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'

/**
 * Check a route prefix for {@link attachHttpApp}: `''` (the root) or a path that starts with
 * `/`, does not end with one, and does not shadow Socket.IO's own path.
 *
 * @throws TypeError on a prefix that cannot work
 */
export function checkHttpPrefix(prefix: string, socketIoPath: string): string {
  if (prefix === '') return prefix
  if (!/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*[^/]$/.test(prefix) || prefix.includes('//')) {
    throw new TypeError(
      `createRealtimeServer: httpPrefix must look like "/realtime", got "${prefix}"`,
    )
  }
  if (underPrefix(socketIoPath, prefix) || underPrefix(prefix, socketIoPath)) {
    throw new TypeError('createRealtimeServer: httpPrefix and path must not overlap')
  }
  return prefix
}

/**
 * Serve `app` under `prefix` on a server the application owns, beside its own request
 * handler: the way Socket.IO attaches (engine.io `attach`), the `request` listeners present
 * now are kept and called for every request outside the prefix. Attach after the
 * application's handler is on the server (`http.createServer(app)`).
 *
 * @param httpServer - the application's server
 * @param app - the realtime HTTP routes, already under `prefix` ({@link HttpAppOptions.prefix})
 * @param prefix - where they go, checked by {@link checkHttpPrefix}; `''` takes every path
 * @example
 * ```ts
 * attachHttpApp(http.createServer(expressApp), createHttpApp(health, registry, receive, { prefix: '/realtime' }), '/realtime')
 * ```
 */
export function attachHttpApp(httpServer: HttpServer, app: Hono, prefix: string): void {
  const serve = getRequestListener(app.fetch)
  const theirs = httpServer.listeners('request') as ((...args: unknown[]) => void)[]
  httpServer.removeAllListeners('request')
  httpServer.on('request', function edgegateRoutes(req: IncomingMessage, res: ServerResponse) {
    if (underPrefix(req.url ?? '/', prefix)) return void serve(req, res)
    for (const listener of theirs) listener.call(httpServer, req, res)
  })
}

/** Whether a request target (path and query) falls under `prefix`. */
function underPrefix(target: string, prefix: string): boolean {
  if (prefix === '') return true
  if (!target.startsWith(prefix)) return false
  const next = target.charAt(prefix.length)
  return next === '' || next === '/' || next === '?'
}
