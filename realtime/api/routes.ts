import { Hono, type Context } from 'hono'
import { AppError, isAppError } from '../../shared/errors.ts'
import { isMediaType, readText } from '../../shared/read-body.ts'
import { rateLimited } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { ClientRateLimiter } from './client-rate.ts'
import { MAX_API_BODY_BYTES } from '../constants.ts'
import { apiErrorResponse } from './http-errors.ts'
import type { ApiMetrics } from './metrics.ts'
import type { ServiceIdentity } from './service-auth.ts'
import type { PresenceReads } from '../presence/reads.ts'

/** What the server API's routes are built from. */
export interface ServerApiOptions {
  /** Authenticates the caller for a scope (see `createServiceAuth`). */
  authenticate: (authorization: string | undefined, scope: string) => Promise<ServiceIdentity>
  rate: Pick<ClientRateLimiter, 'take'>
  /** `POST /publish`: parsed body to the 202 answer. */
  publish: (caller: ServiceIdentity, body: unknown) => Promise<object>
  /** `POST /disconnect`: parsed body to the 202 answer. */
  disconnect: (body: unknown) => { id: string }
  /** `GET /presence/rooms/:room` and `/presence/users/:sub` (docs/protocol.md §8). */
  presence?: PresenceReads
  /** `GET /events?after=&limit=` (docs/protocol.md §16): query to the 200 answer. */
  events?: (query: Record<string, string | undefined>) => Promise<object>
  metrics: ApiMetrics
  logger: Logger
}

/**
 * The server API (docs/protocol.md §8), mounted under `/api/v1` on the
 * realtime port. Each request goes: bearer service token (401/503), the
 * route's scope (403), the client's rate (429), `application/json` (415),
 * the body within its limit before it is parsed (413), JSON (400), then the
 * route, whose refusals map through {@link apiErrorResponse}.
 *
 * @param options - {@link ServerApiOptions}
 * @example
 * ```ts
 * app.route('/api/v1', createServerApi({ authenticate, rate, publish, disconnect, metrics, logger }))
 * ```
 */
export function createServerApi(options: ServerApiOptions): Hono {
  const { metrics, logger } = options
  const app = new Hono()
  const endpoint = (
    scope: string,
    counter: ApiMetrics['publishes'],
    run: (caller: ServiceIdentity, body: unknown, c: Context) => Promise<object> | object,
    /** A GET read: no body, 200. */
    read = false,
  ) =>
    async function serve(c: Context) {
      let clientId: string | undefined
      try {
        const caller = await options.authenticate(c.req.header('authorization'), scope)
        clientId = caller.clientId
        const wait = options.rate.take(caller.clientId)
        if (wait > 0) {
          metrics.rateLimited.inc()
          throw rateLimited('server API rate per client', wait)
        }
        const body = read ? undefined : await readJson(c.req.raw)
        const answer = await run(caller, body, c)
        counter.inc({ outcome: 'ok' })
        c.header('Cache-Control', 'no-store')
        return c.json(answer, read ? 200 : 202)
      } catch (err) {
        const { status, headers, body, unexpected } = apiErrorResponse(err, scope)
        counter.inc({ outcome: body.error })
        if (unexpected) {
          logger('error', 'server API failed', { scope, clientId, error: String(err) })
        } else {
          // An outage (Redis, keys) is worth a warning; a refused request is the caller's.
          const cause = (err as Error).cause
          logger(body.error === 'unavailable' ? 'warn' : 'debug', 'server API refused', {
            scope,
            clientId,
            code: body.error,
            reason: (err as Error).message,
            ...(cause instanceof Error && { cause: cause.message }),
          })
        }
        return c.json(body, status, headers)
      }
    }

  app.post('/publish', endpoint('publish', metrics.publishes, options.publish))
  app.post(
    '/disconnect',
    endpoint('disconnect', metrics.disconnects, (_caller, body) => options.disconnect(body)),
  )
  const reads = options.presence
  if (reads) {
    const { presenceReads } = metrics
    const room = (_: ServiceIdentity, _b: unknown, c: Context) =>
      reads.room(c.req.param('room')!, c.req.query())
    const user = (_: ServiceIdentity, _b: unknown, c: Context) => reads.user(c.req.param('sub')!)
    app.get('/presence/rooms/:room', endpoint('presence:read', presenceReads, room, true))
    app.get('/presence/users/:sub', endpoint('presence:read', presenceReads, user, true))
  }
  const events = options.events
  if (events) {
    const read = (_: ServiceIdentity, _b: unknown, c: Context) => events(c.req.query())
    app.get('/events', endpoint('events:read', metrics.eventReads, read, true))
  }
  return app
}

/**
 * The request's JSON body: `application/json` only (415), at most
 * {@link MAX_API_BODY_BYTES} read before parsing (413), UTF-8 JSON (400).
 */
async function readJson(request: Request): Promise<unknown> {
  if (!isMediaType(request.headers.get('content-type') ?? undefined, 'application/json')) {
    throw new AppError('unsupported_media_type', 'content-type is not application/json')
  }
  let text: string
  try {
    text = await readText(request, MAX_API_BODY_BYTES)
  } catch (err) {
    if (isAppError(err) && err.code === 'invalid_request')
      throw new AppError('envelope_invalid', 'body: not UTF-8')
    throw err
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new AppError('envelope_invalid', 'body: not JSON')
  }
}
