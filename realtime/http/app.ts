import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Registry } from 'prom-client'
import { isAppError } from '../../shared/errors.ts'

/** What the health endpoints report on. */
export interface HealthSource {
  /** Reasons the node cannot serve yet; empty when ready. */
  notReadyReasons(): string[]
  /** Whether the node is draining for shutdown. */
  draining(): boolean
  /** Parts missing that do not make the node unready (another issuer's keys); listed by `/readyz`. */
  degradedReasons?(): string[]
}

/**
 * The HTTP side of the realtime port: `/healthz` (alive), `/readyz` (keys
 * loaded and dependencies connected, else 503 with reasons), `/metrics`,
 * and `POST /internal/revocations` (the edge's signed pushes).
 *
 * @param health - readiness source
 * @param metrics - the Prometheus registry
 * @param receivePush - verifies and applies a push body; returns how many events it carried
 */
export function createHttpApp(
  health: HealthSource,
  metrics: Registry,
  receivePush: (body: unknown) => Promise<number>,
): Hono {
  const app = new Hono()
  app.post(
    '/internal/revocations',
    bodyLimit({ maxSize: 512 * 1024, onError: (c) => c.json({ error: 'payload_too_large' }, 413) }),
    async (c) => {
      let body: unknown
      try {
        body = await c.req.json()
      } catch {
        return c.json({ error: 'invalid_request', error_description: 'body is not JSON' }, 400)
      }
      try {
        const applied = await receivePush(body)
        return c.json({ applied }, 200)
      } catch (err) {
        if (!isAppError(err)) throw err
        const status = err.code === 'invalid_request' ? 400 : 401
        return c.json({ error: err.code, error_description: status === 400 ? 'body must be { token }' : 'push refused' }, status)
      }
    },
  )
  app.get('/healthz', (c) => c.json({ ok: true }))
  app.get('/readyz', (c) => {
    const reasons = health.draining() ? ['draining'] : health.notReadyReasons()
    c.header('Cache-Control', 'no-store')
    const degraded = health.degradedReasons?.() ?? []
    if (reasons.length > 0) return c.json({ ready: false, reasons: [...reasons, ...degraded] }, 503)
    return c.json(degraded.length === 0 ? { ready: true } : { ready: true, degraded })
  })
  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.contentType)
    return c.body(await metrics.metrics())
  })
  app.notFound((c) => c.json({ error: 'not_found' }, 404))
  return app
}
