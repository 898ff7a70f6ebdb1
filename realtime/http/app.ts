import { getConnInfo } from '@hono/node-server/conninfo'
import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { Registry } from 'prom-client'
import { isAppError } from '../../shared/errors.ts'
import { firstHeaderValue } from '../admission/forwarded.ts'
import { AddressRate } from '../limits/address-rate.ts'
import type { PushFailure } from '../revocations/push-receiver.ts'
import { MAX_PUSH_BODY_BYTES, PUSH_BURST, PUSH_RATE_PER_SECOND } from '../constants.ts'

/** What the health endpoints report on. */
export interface HealthSource {
  /** Reasons the node cannot serve yet; empty when ready. */
  notReadyReasons(): string[]
  /** Whether the node is draining for shutdown. */
  draining(): boolean
}

/** How a push ended: `ok`, refused before it was read, or its {@link PushFailure}. */
export type PushOutcome = 'ok' | 'rate_limited' | 'payload_too_large' | PushFailure

/** Options of {@link createHttpApp}. */
export interface HttpAppOptions {
  /** Bounds of `POST /internal/revocations`. @default { maxBodyBytes: 64 KiB, ratePerSecond: 20, burst: 50 } */
  push?: { maxBodyBytes?: number; ratePerSecond?: number; burst?: number }
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). @default false */
  trustProxy?: boolean
  /** ms clock. @default Date.now */
  now?: () => number
  /** Called once per push with its outcome, for metrics. */
  onPush?: (outcome: PushOutcome) => void
  /** Path every route sits under (`/realtime/healthz`…), checked by `checkHttpPrefix`. @default '' */
  prefix?: string
}

/**
 * The HTTP side of the realtime port: `/healthz` (alive), `/readyz` (keys
 * loaded and dependencies connected, else 503 with reasons), `/metrics`,
 * and `POST /internal/revocations` (the edge's signed pushes), which is
 * rate-limited per client address before its body is read, and bounded.
 *
 * @param health - readiness source
 * @param metrics - the Prometheus registry
 * @param receivePush - verifies and applies a push body; returns how many events it carried
 * @param options - {@link HttpAppOptions}
 * @example
 * ```ts
 * const app = createHttpApp(health, metrics.registry, receive, { trustProxy: true })
 * ```
 */
export function createHttpApp(
  health: HealthSource,
  metrics: Registry,
  receivePush: (body: unknown) => Promise<number>,
  options: HttpAppOptions = {},
): Hono {
  const now = options.now ?? Date.now
  const onPush = options.onPush ?? (() => {})
  const pushRate = new AddressRate(
    options.push?.ratePerSecond ?? PUSH_RATE_PER_SECOND,
    options.push?.burst ?? PUSH_BURST,
  )
  // Before the body is read or any signature checked: a push costs a verification.
  const pushRateLimit: MiddlewareHandler = async function pushRateLimit(c, next) {
    const forwarded = options.trustProxy
      ? firstHeaderValue(c.req.header('x-forwarded-for'))
      : undefined
    const address = forwarded ?? getConnInfo(c).remote.address ?? 'unknown'
    const wait = pushRate.take(address, now())
    if (wait === 0) return next()
    onPush('rate_limited')
    c.header('Retry-After', String(Math.ceil(wait / 1000)))
    return c.json({ error: 'rate_limited' }, 429)
  }

  const app = options.prefix ? new Hono().basePath(options.prefix) : new Hono()
  app.post(
    '/internal/revocations',
    pushRateLimit,
    bodyLimit({
      maxSize: options.push?.maxBodyBytes ?? MAX_PUSH_BODY_BYTES,
      onError: (c) => {
        onPush('payload_too_large')
        return c.json({ error: 'payload_too_large' }, 413)
      },
    }),
    async (c) => {
      let body: unknown
      try {
        body = await c.req.json()
      } catch {
        onPush('invalid_request')
        return c.json({ error: 'invalid_request', error_description: 'body is not JSON' }, 400)
      }
      try {
        const applied = await receivePush(body)
        onPush('ok')
        return c.json({ applied }, 200)
      } catch (err) {
        const refusal = pushRefusal(err)
        if (!refusal) throw err
        onPush(refusal.code)
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
    return reasons.length === 0 ? c.json({ ready: true }) : c.json({ ready: false, reasons }, 503)
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
