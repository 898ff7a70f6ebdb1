import type { Context } from 'hono'
import * as v from 'valibot'
import { RoomNameSchema } from '../../shared/claims.ts'
import type { ServiceTokenClaims } from '../../shared/verify-service-token.ts'
import {
  DEFAULT_ROOM_GRANT_TTL_SECONDS,
  MAX_ROOM_GRANT_TTL_SECONDS,
  ROOM_GRANT_MAX_ROOMS,
} from '../../shared/constants.ts'
import { GRANT_SUBJECT_MAX_CHARS } from '../constants.ts'
import { getSigningKey } from '../keys/signer.ts'
import { mintRoomGrant } from '../keys/service-tokens.ts'
import type { AppEnv } from '../types.ts'

/** A `sub` or `sid` a grant is bound to: printable, no spaces. */
const SubjectSchema = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(GRANT_SUBJECT_MAX_CHARS),
  v.regex(/^[\x21-\x7E]+$/, 'printable ASCII without spaces'),
)

/** A room a grant may name: exact, and never a server-managed `user:*` or `session:*` room. */
const GrantRoomSchema = v.pipe(
  RoomNameSchema,
  v.check((room) => !/^(?:user|session):/.test(room), 'not a user: or session: room'),
)

/** `POST /auth/room-grants` body (docs/protocol.md §11). */
export const RoomGrantBody = v.strictObject({
  sub: SubjectSchema,
  sid: v.optional(SubjectSchema),
  rooms: v.pipe(v.array(GrantRoomSchema), v.minLength(1), v.maxLength(ROOM_GRANT_MAX_ROOMS)),
  ttl: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(MAX_ROOM_GRANT_TTL_SECONDS)),
    DEFAULT_ROOM_GRANT_TTL_SECONDS,
  ),
})

/**
 * `POST /auth/room-grants` (behind `requireServiceToken('grants')`): sign a
 * `room+jwt` grant for the body's user, session and rooms, on behalf of the
 * calling client, and answer `{ grant, expires_in }`, `no-store`.
 */
export async function roomGrant<E extends AppEnv & { Variables: { service: ServiceTokenClaims } }>(
  c: Context<E>,
  body: v.InferOutput<typeof RoomGrantBody>,
) {
  const config = c.get('config')
  const now = Math.floor(c.get('now') / 1000)
  const signer = await getSigningKey(c.env, now)
  const grant = await mintRoomGrant(
    signer,
    {
      sub: body.sub,
      sid: body.sid,
      rooms: [...new Set(body.rooms)],
      clientId: c.get('service').client_id,
    },
    { issuer: config.issuer, audience: config.audience, ttlSeconds: body.ttl, now },
  )
  c.header('Cache-Control', 'no-store')
  c.header('Pragma', 'no-cache')
  return c.json({ grant, expires_in: body.ttl }, 200)
}
