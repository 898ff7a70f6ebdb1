import { ACCESS_TOKEN_TYP, ROOM_GRANT_TYP, SERVICE_AUDIENCE } from '../../shared/constants.ts'
import { signJwt, type SigningKey } from './signer.ts'

/** Options of {@link mintServiceToken}. */
export interface MintServiceOptions {
  issuer: string
  /** Lifetime in seconds (`SERVICE_TOKEN_TTL`). */
  ttlSeconds: number
  /** Unix seconds. */
  now: number
}

/**
 * Sign a service token (docs/protocol.md §8): `typ: at+jwt` like a user
 * token, but `aud: realtime-api`, `sub` and `client_id` = the client, and no
 * `sid`, `name` or `rooms`, so it can never pass as a user's token.
 *
 * @param signer - the active key (`getSigningKey`)
 * @param claims - the client and the granted scope
 * @param options - issuer, lifetime and clock
 * @example
 * ```ts
 * const token = await mintServiceToken(signer, { clientId, scope: 'publish' }, { issuer, ttlSeconds: 300, now })
 * ```
 */
export function mintServiceToken(
  signer: SigningKey,
  claims: { clientId: string; scope: string },
  options: MintServiceOptions,
): Promise<string> {
  return signJwt(
    signer,
    ACCESS_TOKEN_TYP,
    { client_id: claims.clientId, scope: claims.scope },
    { ...options, audience: SERVICE_AUDIENCE, subject: claims.clientId, notBefore: true },
  )
}

/** What a room grant is for (docs/protocol.md §11). */
export interface RoomGrantRequest {
  sub: string
  sid?: string | undefined
  rooms: string[]
  /** The service client that asked for it. */
  clientId: string
}

/** Options of {@link mintRoomGrant}. */
export interface MintGrantOptions extends MintServiceOptions {
  /** `aud`: the realtime service's, as for user tokens. */
  audience: string | string[]
}

/**
 * Sign a room grant (docs/protocol.md §11): `typ: room+jwt`, which realtime
 * keeps apart from access tokens in both directions, bound to `sub` (and
 * `sid` when given) and a list of exact rooms.
 *
 * @param signer - the active key (`getSigningKey`)
 * @param grant - subject, optional session, rooms and issuing client
 * @param options - issuer, audience, lifetime and clock
 * @example
 * ```ts
 * const grant = await mintRoomGrant(signer, { sub, rooms: ['doc:42'], clientId }, { issuer, audience: 'realtime', ttlSeconds: 300, now })
 * ```
 */
export function mintRoomGrant(
  signer: SigningKey,
  grant: RoomGrantRequest,
  options: MintGrantOptions,
): Promise<string> {
  return signJwt(
    signer,
    ROOM_GRANT_TYP,
    {
      ...(grant.sid !== undefined && { sid: grant.sid }),
      rooms: grant.rooms,
      client_id: grant.clientId,
    },
    { ...options, subject: grant.sub },
  )
}
