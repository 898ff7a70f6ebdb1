import * as v from 'valibot'
import { MAX_ROOM_PATTERN_CHARS, MAX_SCOPE_CHARS, ROOM_GRANT_MAX_ROOMS } from './constants.ts'

/** The characters of a room pattern (its length is bounded apart): shared with realtime's hand check. */
export const ROOM_PATTERN = /^[A-Za-z0-9:_.\-]+\*?$|^\*$/

/** A `sub`: 1–256 code points, no control character. */
export const SUBJECT_PATTERN = /^[^\p{Cc}]{1,256}$/u

/** A space-separated scope string (RFC 6749 §3.3 scope-token characters); its length is bounded apart. */
export const SCOPE_PATTERN = /^(?:[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*)?$/

/** A room pattern of the `rooms` claim: an exact name, or a prefix ending in `*`. */
export const RoomPatternSchema = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(MAX_ROOM_PATTERN_CHARS),
  v.regex(ROOM_PATTERN, 'room pattern: [A-Za-z0-9:_.-], optionally ending in *'),
)

/**
 * A user id (`sub`) as realtime accepts it at the handshake and as the
 * server API targets it (docs/protocol.md §8, v1.2): 1–256 characters
 * (code points), none of them a control character. One schema for both, so
 * every user who can connect can be published to and disconnected.
 */
export const SubjectSchema = v.pipe(
  v.string(),
  v.regex(SUBJECT_PATTERN, 'sub: 1-256 characters, no control characters'),
)

/** A space-separated scope string (RFC 6749 §3.3 scope-token characters). */
export const ScopeSchema = v.pipe(
  v.string(),
  v.maxLength(MAX_SCOPE_CHARS),
  v.regex(SCOPE_PATTERN, 'scope: space-separated tokens'),
)

/** The pattern of {@link JwkThumbprintSchema}. */
export const JWK_THUMBPRINT_PATTERN = /^[A-Za-z0-9_-]{43}$/

/** An RFC 7638 SHA-256 JWK thumbprint, base64url without padding (43 characters). */
export const JwkThumbprintSchema = v.pipe(
  v.string(),
  v.regex(JWK_THUMBPRINT_PATTERN, 'jkt: a base64url SHA-256 thumbprint'),
)

/**
 * The claims of an edgegate access token (docs/protocol.md §4). Verifiers parse the
 * verified payload through this schema, so every consumer sees the same types.
 */
export const AccessClaimsSchema = v.object({
  iss: v.string(),
  aud: v.union([v.string(), v.array(v.string())]),
  sub: SubjectSchema,
  sid: v.pipe(v.string(), v.minLength(1)),
  jti: v.pipe(v.string(), v.minLength(1)),
  name: v.string(),
  iat: v.number(),
  nbf: v.number(),
  exp: v.number(),
  scope: ScopeSchema,
  rooms: v.array(RoomPatternSchema),
  /** (v1.2) The key the token is bound to (docs/protocol.md §15; RFC 9449 §6.1). */
  cnf: v.optional(v.object({ jkt: JwkThumbprintSchema })),
})

/** The claims of an edgegate access token. */
export type AccessClaims = v.InferOutput<typeof AccessClaimsSchema>

/** An exact room name (docs/protocol.md §11): a room pattern without `*`. */
export const RoomNameSchema = v.pipe(RoomPatternSchema, v.regex(/^[^*]+$/, 'room name: no *'))

/**
 * The claims of a service token (docs/protocol.md §8): a client-credentials
 * token for the realtime server API. It names a client, never a user session,
 * so it has no `sid`, `name` or `rooms`.
 */
export const ServiceClaimsSchema = v.object({
  ...v.pick(AccessClaimsSchema, ['iss', 'aud', 'sub', 'jti', 'iat', 'nbf', 'exp', 'scope']).entries,
  client_id: v.pipe(v.string(), v.minLength(1)),
})

/** The claims of a service token. */
export type ServiceClaims = v.InferOutput<typeof ServiceClaimsSchema>

/**
 * The claims of a room grant (docs/protocol.md §11, `typ: room+jwt`): exact
 * rooms one user (and, with `sid`, one session) may join, issued for the
 * service client `client_id`.
 */
export const RoomGrantClaimsSchema = v.object({
  ...v.pick(AccessClaimsSchema, ['iss', 'aud', 'sub', 'jti', 'iat', 'exp']).entries,
  sid: v.optional(v.pipe(v.string(), v.minLength(1))),
  rooms: v.pipe(v.array(RoomNameSchema), v.minLength(1), v.maxLength(ROOM_GRANT_MAX_ROOMS)),
  client_id: v.pipe(v.string(), v.minLength(1)),
})

/** The claims of a room grant. */
export type RoomGrantClaims = v.InferOutput<typeof RoomGrantClaimsSchema>

/**
 * The claims about the subject, as the edge chooses them when it signs; the
 * registered claims (`iss`, `aud`, `jti`, `iat`, `nbf`, `exp`) are added by
 * the signer. Derived from {@link AccessClaimsSchema}, like every claim shape.
 */
export type SubjectClaims = Pick<AccessClaims, 'sub' | 'sid' | 'name' | 'scope' | 'rooms' | 'cnf'>

/** A revocation event (docs/protocol.md §6). */
export const RevocationEventSchema = v.object({
  cursor: v.pipe(v.number(), v.integer(), v.minValue(1)),
  kind: v.picklist(['session', 'user', 'key', 'client']),
  id: v.pipe(v.string(), v.minLength(1)),
  at: v.number(),
  until: v.number(),
})

/** A revocation event (docs/protocol.md §6). */
export type RevocationEvent = v.InferOutput<typeof RevocationEventSchema>

/** What a revocation event names. */
export type RevocationKind = RevocationEvent['kind']

/**
 * The token response of `/auth/login` and `/auth/refresh` (docs/protocol.md §3). In
 * cookie mode (`X-Edgegate-Refresh: cookie`) it is a {@link CookieTokenResponse}.
 */
export interface TokenResponse {
  access_token: string
  /** `DPoP` when the tokens are bound to the client's key (docs/protocol.md §15). */
  token_type: 'Bearer' | 'DPoP'
  expires_in: number
  refresh_token: string
  refresh_expires_in: number
  scope: string
}

/** The token response in cookie mode: the refresh token travels only in the HttpOnly cookie. */
export type CookieTokenResponse = Omit<TokenResponse, 'refresh_token'>

/** The token response of `POST /auth/token` (docs/protocol.md §8): no refresh token (RFC 6749 §4.4.3). */
export interface ServiceTokenResponse {
  access_token: string
  token_type: 'Bearer'
  expires_in: number
  scope: string
}
