/**
 * Protocol constants from docs/protocol.md. Values a deployment can change live in
 * each runtime's configuration; these are the fixed parts of the contract and
 * the defaults the configuration starts from.
 */

/** Largest JSON request body the edge parses, in bytes (docs/protocol.md §3). */
export const MAX_BODY_BYTES = 8 * 1024

/** Default access-token lifetime, in seconds (docs/protocol.md §4). */
export const DEFAULT_ACCESS_TOKEN_TTL_SECONDS = 300

/** Upper bound on the access-token lifetime, in seconds (docs/protocol.md §4). */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 3600

/** Default JWKS `max-age` and key pre-publication period, in seconds (docs/protocol.md §4). */
export const DEFAULT_JWKS_MAX_AGE_SECONDS = 300

/**
 * Smallest JWKS `max-age` the edge publishes and every verifier honours, in
 * seconds: the edge refuses a lower `JWKS_MAX_AGE`, and a key set floors a
 * shorter `max-age` at this (docs/protocol.md §4 invariant 2).
 */
export const MIN_JWKS_MAX_AGE_SECONDS = 1

/** Clock tolerance every verifier applies to `exp` and `nbf`, in seconds (docs/protocol.md §5). */
export const CLOCK_TOLERANCE_SECONDS = 5

/** Largest access token a verifier accepts, in bytes (docs/protocol.md §5). */
export const MAX_TOKEN_BYTES = 4 * 1024

/** JOSE `typ` of access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt'

/** JOSE `typ` of revocation pushes (docs/protocol.md §6). */
export const REVOCATION_TOKEN_TYP = 'revocation+jwt'

/** Audience of revocation pushes (docs/protocol.md §6). */
export const REVOCATION_AUDIENCE = 'realtime-internal'

/** Default audience of access tokens (docs/protocol.md §4). */
export const DEFAULT_AUDIENCE = 'realtime'

/** Signing algorithms an edge may be configured with (docs/protocol.md §4). */
export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256'] as const

/** A signing algorithm an edge may be configured with. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number]

/** Path of the JWKS on the edge. */
export const JWKS_PATH = '/.well-known/jwks.json'

/** Path of the OpenID-style discovery document on the edge. */
export const DISCOVERY_PATH = '/.well-known/openid-configuration'

/** Largest serialized envelope, in bytes (docs/protocol.md §5, `MAX_ENVELOPE_BYTES`). */
export const MAX_ENVELOPE_BYTES = 16 * 1024

/** Longest chat message, in characters (docs/protocol.md §5 demo events). */
export const CHAT_TEXT_MAX_CHARS = 2000

/** `rt:expiring` is sent this long before `exp`, or a tenth of the lifetime if shorter (docs/protocol.md §5). */
export const EXPIRING_NOTICE_SECONDS = 30

/** Time a tokenless socket has to emit `authenticate` in the socketio-jwt compat mode, by default. */
export const SOCKETIO_JWT_COMPAT_TIMEOUT_MS = 5000

/** Audience of service tokens, the realtime server API's (docs/protocol.md §8). */
export const SERVICE_AUDIENCE = 'realtime-api'

/** Scopes a service client may hold (docs/protocol.md §8). */
export const SERVICE_SCOPES = [
  'publish',
  'disconnect',
  'presence:read',
  'grants',
  'events:read',
] as const

/** A scope a service client may hold. */
export type ServiceScope = (typeof SERVICE_SCOPES)[number]

/** Default service-token lifetime, in seconds (docs/protocol.md §8). */
export const DEFAULT_SERVICE_TOKEN_TTL_SECONDS = 300

/** Upper bound on the service-token lifetime, in seconds (docs/protocol.md §8). */
export const MAX_SERVICE_TOKEN_TTL_SECONDS = 900

/** JOSE `typ` of room grants (docs/protocol.md §11). */
export const ROOM_GRANT_TYP = 'room+jwt'

/** Default room-grant lifetime, in seconds (docs/protocol.md §11). */
export const DEFAULT_ROOM_GRANT_TTL_SECONDS = 300

/** Upper bound on the room-grant lifetime, in seconds (docs/protocol.md §11). */
export const MAX_ROOM_GRANT_TTL_SECONDS = 3600

/** Most rooms one grant may name (docs/protocol.md §11). */
export const ROOM_GRANT_MAX_ROOMS = 20

/** Longest `scope` claim, in UTF-16 code units (docs/protocol.md §4). */
export const MAX_SCOPE_CHARS = 1024

/** Longest room pattern of a `rooms` claim, in UTF-16 code units (docs/protocol.md §4). */
export const MAX_ROOM_PATTERN_CHARS = 128

/** `since` of `rt:sync` meaning the start of what the user's stream still holds (docs/protocol.md §9, v1.2). */
export const SYNC_FROM_START = '0'

/** How far a webhook's `webhook-timestamp` may be from now, in seconds (docs/protocol.md §16; Standard Webhooks). */
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60

/** Prefix of a Standard Webhooks secret: `whsec_` + base64 of the key (docs/protocol.md §16). */
export const WEBHOOK_SECRET_PREFIX = 'whsec_'

/** Fewest random bytes a webhook secret's key holds (docs/protocol.md §16). */
export const WEBHOOK_SECRET_MIN_BYTES = 24

/** The lifecycle event types (docs/protocol.md §16). */
export const LIFECYCLE_EVENT_TYPES = [
  'user.online',
  'user.offline',
  'room.occupied',
  'room.vacated',
  'session.revoked',
] as const

/** A lifecycle event type. */
export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number]

/** `typ` of a DPoP proof (RFC 9449 §4.2; docs/protocol.md §15). */
export const DPOP_PROOF_TYP = 'dpop+jwt'

/** The algorithms a DPoP proof may be signed with (docs/protocol.md §15). */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA'] as const

/** How far a proof's `iat` may be from now, either way, in seconds (docs/protocol.md §15). */
export const DPOP_PROOF_MAX_AGE_SECONDS = 60

/** How long a proof's `jti` is remembered, in seconds: a replay inside it is refused (docs/protocol.md §15). */
export const DPOP_JTI_TTL_SECONDS = 5 * 60

/** Longest proof accepted, in bytes: an EC or Ed25519 `jwk` header and the claims fit in well under it. */
export const MAX_DPOP_PROOF_BYTES = 2 * 1024

/** Longest `jti` or `nonce` in a proof, in characters. */
export const MAX_DPOP_CLAIM_CHARS = 256
