import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Registry } from 'prom-client'
import { isAppError } from '../../shared/errors.ts'
import type { PushFailure } from '../revocations/push-receiver.ts'
import { MAX_PUSH_BODY_BYTES } from '../constants.ts'

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
    bodyLimit({
      maxSize: MAX_PUSH_BODY_BYTES,
      onError: (c) => c.json({ error: 'payload_too_large' }, 413),
    }),
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
        const refusal = pushRefusal(err)
        if (!refusal) throw err
        return c.json(
          { error: refusal.code, error_description: refusal.description },
          refusal.status,
        )
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

/** The HTTP answer to a refused push. */
interface PushRefusal {
  code: PushFailure
  status: 400 | 401 | 503
  description: string
}

/**
 * The one place a push failure meets its HTTP status (docs/protocol.md §6):
 * a bad body is 400, a token that fails a check 401, and a JWKS outage 503
 * `unavailable`, which the edge retries. Any other error is a bug (500).
 */
function pushRefusal(err: unknown): PushRefusal | undefined {
  if (!isAppError(err)) return undefined
  const code = err.code as PushFailure
  switch (code) {
    case 'invalid_request':
      return { code, status: 400, description: 'body must be { token }' }
    case 'unauthorized':
      return { code, status: 401, description: 'push refused' }
    case 'unavailable':
      return { code, status: 503, description: 'signing keys unavailable' }
    default:
      return unexpected(code)
  }
}

/** Exhaustiveness: a new {@link PushFailure} fails to compile here until it has a status. */
function unexpected(code: never): undefined {
  void code
  return undefined
}
