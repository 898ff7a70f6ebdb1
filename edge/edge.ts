import type { Hono } from 'hono'
import { app } from './app.ts'
import { LoginThrottle } from './auth/throttle.ts'
import { DpopJtiStore } from './dpop/jti-store.ts'
import { KeyStore } from './keys/store.ts'
import { RevocationPusher } from './revocations/push.ts'
import { runScheduledMaintenance } from './scheduled.ts'
import type { AppEnv } from './types.ts'

export { DpopJtiStore, KeyStore, LoginThrottle, RevocationPusher }

/** The edge as a library: what a Worker mounts and re-exports. */
export interface Edge {
  /** The edge's routes (docs/protocol.md §3), to mount beside your own: `app.route('/', edge.app)`. */
  app: Hono<AppEnv>
  /** A whole Worker's handler: the routes and the cron's maintenance. */
  handler: {
    fetch: Hono<AppEnv>['fetch']
    scheduled: (controller: ScheduledController, env: Env, ctx: ExecutionContext) => void
  }
  /**
   * The Durable Object classes your Worker must export under these names (wrangler.toml);
   * also exported from this module, to re-export as classes (`export { KeyStore } from …`).
   */
  KeyStore: typeof KeyStore
  LoginThrottle: typeof LoginThrottle
  RevocationPusher: typeof RevocationPusher
  /** (v1.2) The DPoP `jti` replay cache (binding `DPOP_JTIS`, docs/dpop.md). */
  DpopJtiStore: typeof DpopJtiStore
}

/**
 * The edge for a Worker of your own: its Hono app (login, refresh, logout, JWKS and
 * discovery, the revocation feed, service tokens, room grants, admin), the cron handler,
 * and the Durable Object classes. Configuration comes from the Worker's bindings, as
 * wrangler.toml declares them (docs/configuration.md); the D1 migrations are the
 * package's `edge/migrations`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { createEdge } from 'edgegate/edge'
 *
 * const edge = createEdge()
 * const app = new Hono<{ Bindings: Env }>()
 * app.get('/api/hello', (c) => c.json({ hello: 'world' }))
 * app.route('/', edge.app)
 *
 * export { DpopJtiStore, KeyStore, LoginThrottle, RevocationPusher } from 'edgegate/edge'
 * export default { fetch: app.fetch, scheduled: edge.handler.scheduled } satisfies ExportedHandler<Env>
 * ```
 */
export function createEdge(): Edge {
  return {
    app,
    handler: {
      fetch: app.fetch,
      scheduled(controller, env, ctx) {
        ctx.waitUntil(
          runScheduledMaintenance(env, { now: Math.floor(controller.scheduledTime / 1000) }),
        )
      },
    },
    KeyStore,
    LoginThrottle,
    RevocationPusher,
    DpopJtiStore,
  }
}
