import { jwtVerify, type JWTVerifyGetKey } from 'jose'
import * as v from 'valibot'
import { RevocationEventSchema, type RevocationEvent } from '../../shared/claims.ts'
import {
  CLOCK_TOLERANCE_SECONDS,
  REVOCATION_AUDIENCE,
  REVOCATION_TOKEN_TYP,
  SIGNING_ALGORITHMS,
} from '../../shared/constants.ts'
import { AppError, isAppError } from '../../shared/errors.ts'
import {
  MAX_EVENTS_PER_PUSH,
  MAX_PUSH_LIFETIME_SECONDS,
  MAX_PUSH_TOKEN_BYTES,
} from '../constants.ts'

const PushBody = v.strictObject({ token: v.pipe(v.string(), v.maxLength(MAX_PUSH_TOKEN_BYTES)) })
const PushClaims = v.object({
  jti: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  iat: v.number(),
  exp: v.number(),
  events: v.pipe(v.array(RevocationEventSchema), v.maxLength(MAX_EVENTS_PER_PUSH)),
})

/** Why a push is refused: the codes {@link createPushReceiver} throws. */
export type PushFailure = 'invalid_request' | 'unauthorized' | 'unavailable'

/** Options of {@link createPushReceiver}. */
export interface PushReceiverOptions {
  /** The edge's keys (the same key set the handshake uses). */
  getKey: JWTVerifyGetKey
  /** The edge's issuer. */
  issuer: string
  /** ms clock. @default Date.now */
  now?: () => number
}

/**
 * Verifies the edge's revocation pushes (docs/protocol.md §6): a `revocation+jwt`
 * signed by a key of the edge's JWKS, for `realtime-internal`, living at
 * most 60 s, whose `jti` has not been seen. Anything else is refused.
 *
 * @returns a function from the request body to the events it carries
 * @throws AppError `invalid_request` for a malformed body, `unauthorized` for a token that fails any
 *   check, `unavailable` when the edge's keys cannot be fetched (the edge retries)
 */
export function createPushReceiver(
  options: PushReceiverOptions,
): (body: unknown) => Promise<RevocationEvent[]> {
  const now = options.now ?? Date.now
  const seen = new Map<string, number>()
  return async function receivePush(body) {
    const parsed = v.safeParse(PushBody, body)
    if (!parsed.success) throw new AppError('invalid_request', 'body must be { token }')
    let payload: unknown
    try {
      ;({ payload } = await jwtVerify(parsed.output.token, options.getKey, {
        typ: REVOCATION_TOKEN_TYP,
        issuer: options.issuer,
        audience: REVOCATION_AUDIENCE,
        algorithms: [...SIGNING_ALGORITHMS],
        requiredClaims: ['jti', 'iat', 'exp'],
        maxTokenAge: MAX_PUSH_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(now()),
      }))
    } catch (err) {
      // The keys could not be had (a JWKS outage): not the push's fault, and worth a retry.
      if (isAppError(err) && err.code === 'unavailable') throw err
      throw new AppError(
        'unauthorized',
        `push token rejected (${String((err as { code?: string }).code ?? 'error')})`,
      )
    }
    const claims = v.safeParse(PushClaims, payload)
    if (!claims.success) throw new AppError('unauthorized', 'push claims malformed')
    const { jti, iat, exp, events } = claims.output
    if (exp - iat > MAX_PUSH_LIFETIME_SECONDS)
      throw new AppError('unauthorized', 'push token lives too long')
    const nowSeconds = now() / 1000
    for (const [id, until] of seen) if (until < nowSeconds) seen.delete(id)
    if (seen.has(jti)) throw new AppError('unauthorized', 'push token replayed')
    seen.set(jti, exp + CLOCK_TOLERANCE_SECONDS)
    return events
  }
}
