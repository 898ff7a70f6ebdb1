/**
 * Every default and bound of the realtime service, with its unit. The
 * service's configuration (config.ts), the server (server.ts and its parts)
 * and the limits read them here; docs/protocol.md fixes the ones the contract
 * names, and shared/constants.ts holds those the edge shares.
 */

// Names every node of a cluster shares: Redis keys, channels and events, and a
// room. Changing one splits a rolling upgrade in two, old nodes and new ones no
// longer seeing each other's state; docs/realtime.md lists what Redis holds.

/** The Socket.IO adapter's Redis stream, and the prefix of its channels. */
export const ADAPTER_REDIS_STREAM = 'edgegate:socket.io'
/** Key prefix of the revocations every node enforces (sessions and users, until their tokens expire). */
export const REVOKED_REDIS_PREFIX = 'edgegate:revoked:'
/** Key prefix of presence: members, batches and node heartbeats (docs/presence.md). */
export const PRESENCE_REDIS_PREFIX = 'edgegate:presence:'
/** Key prefix of the server API's state: idempotency keys and user streams. */
export const API_REDIS_PREFIX = 'edgegate:api:'
/** Key prefix of the DPoP proofs' `jti`s seen by any node (docs/protocol.md §15), each held 5 minutes. */
export const DPOP_JTI_REDIS_PREFIX = 'edgegate:dpop:jti:'
/** The inter-node event that fans a revocation out to the other nodes. */
export const CLUSTER_REVOCATION_EVENT = 'edgegate:revocation'
/** The inter-node event that fans a server-API disconnect (docs/protocol.md §8) out to the other nodes. */
export const CLUSTER_DISCONNECT_EVENT = 'edgegate:disconnect'
/**
 * The pseudo-room that holds each connected user once, for
 * `GET /api/v1/presence/users/:sub`. Its name is outside the room alphabet,
 * so no client room can collide with it; it has no batches and no caps
 * (the connection limits bound it).
 */
export const ONLINE_ROOM = '*online'

// Where the service listens, and where it finds the edge.

/** Port the service listens on by default. */
export const DEFAULT_PORT = 3000
/** Interface the service binds by default (loopback: put a proxy in front). */
export const DEFAULT_HOST = '127.0.0.1'
/** The edge's URL when `EDGE_URL` is unset (wrangler dev). */
export const DEFAULT_EDGE_URL = 'http://127.0.0.1:8787'
/** Socket.IO's HTTP path. */
export const DEFAULT_SOCKETIO_PATH = '/socket.io'
/**
 * Where the realtime HTTP routes (health, readiness, metrics, the server API, the revocation
 * push) sit on a server the application owns (`httpServer`), clear of its own `/healthz`.
 */
export const DEFAULT_ATTACHED_HTTP_PREFIX = '/realtime'
/** The `realm` of the REST middleware's `WWW-Authenticate` challenge (edgegate/express, /hono). */
export const DEFAULT_REST_REALM = 'api'

/** Time a client may take between opening a connection and sending CONNECT, ms. */
export const CONNECT_TIMEOUT_MS = 5000
/** New connections per second per client address. */
export const CONNECTION_RATE_PER_SECOND = 10
/** Burst of new connections per client address. */
export const CONNECTION_BURST = 30
/** Open connections per client address. */
export const MAX_CONNECTIONS_PER_ADDRESS = 200
/** Open connections per user (`sub`). */
export const MAX_CONNECTIONS_PER_USER = 20
/** `retryAfterMs` of a refusal for a full per-address or per-user cap, ms. */
export const CONNECTION_CAP_RETRY_AFTER_MS = 1000
/** Addresses with a rate bucket past which full buckets are swept, count. */
export const RATE_BUCKETS_SWEEP_THRESHOLD_COUNT = 100_000

/** Users holding handshake reservations at which every user's gone handshakes are swept (then at twice as many), count. */
export const RESERVATION_SWEEP_THRESHOLD_COUNT = 1024

/** Rooms one socket may join besides its server-managed ones, count. */
export const MAX_ROOMS_PER_SOCKET = 100
/** Rooms one user's sockets in one namespace may hold together on this node, count. */
export const MAX_ROOMS_PER_USER = 500

/** Messages per second per socket. */
export const MESSAGE_RATE_PER_SECOND = 20
/** Burst of messages per socket, and the most that may queue behind one that waits. */
export const MESSAGE_BURST = 40

/** Time `close()` gives connections to flush and close before they are cut, ms. */
export const SHUTDOWN_TIMEOUT_MS = 10_000
/** Wait between attempts to load the signing keys while the edge is unreachable, ms. */
export const KEY_LOAD_RETRY_MS = 2000
/** How often expired revocations are dropped from the set, ms. */
export const REVOCATION_PRUNE_INTERVAL_MS = 60_000
/** Pause between polls of the edge's revocation feed, ms. */
export const REVOCATION_POLL_MS = 2000
/** Timeout of one poll of the revocation feed, ms. */
export const REVOCATION_POLL_TIMEOUT_MS = 5000
/**
 * Largest body `POST /internal/revocations` reads, bytes. The edge sends at
 * most 100 events a push (about 14 KiB signed): room for long ids, none for abuse.
 */
export const MAX_PUSH_BODY_BYTES = 64 * 1024
/** Largest push token, bytes (chars of its compact form): what fits in the body. */
export const MAX_PUSH_TOKEN_BYTES = MAX_PUSH_BODY_BYTES
/** Revocation pushes per second per client address, sustained: well above the edge's one-alarm-at-a-time pusher. */
export const PUSH_RATE_PER_SECOND = 20
/** Burst of revocation pushes per client address. */
export const PUSH_BURST = 50
/** Longest lifetime a push token may declare (docs/protocol.md §6: exp within 60 s), seconds. */
export const MAX_PUSH_LIFETIME_SECONDS = 60
/** Events one push may carry, count. */
export const MAX_EVENTS_PER_PUSH = 1000

/** Minimum time between JWKS refetches for unknown kids (the key set's default), ms. */
export const JWKS_COOLDOWN_MS = 30_000
/** How long the last good keys keep verifying past expiry while the edge is down (the key set's default), ms. */
export const JWKS_MAX_STALE_MS = 3_600_000

/** Recovered sessions waiting for their handshake to pass, count (refused handshakes cannot grow it further). */
export const MAX_PENDING_RECOVERIES_COUNT = 10_000
/** Most extra lead an `rt:expiring` notice gets to spread refreshes out, seconds. */
export const NOTICE_SPREAD_SECONDS = 2

// Other trusted issuers (docs/protocol.md §12).
/** Most issuers realtime trusts besides the edge, count: each holds a key set and a discovery retry. */
export const MAX_TRUSTED_ISSUERS_COUNT = 16

/** Largest discovery document read, in bytes. */
export const DISCOVERY_MAX_BYTES = 64 * 1024

/** Timeout of one discovery fetch (headers and body), in ms. */
export const DISCOVERY_TIMEOUT_MS = 5_000

/**
 * Least wait between attempts to load an issuer's discovery document or keys
 * while they fail, in ms; the waits then double, jittered, up to
 * {@link ISSUER_LOAD_RETRY_MAX_MS}.
 */
export const ISSUER_LOAD_RETRY_MS = 2_000

/** Longest wait between attempts to load a failing issuer, in ms. */
export const ISSUER_LOAD_RETRY_MAX_MS = 300_000

/** Longest `name` taken from another issuer's token for display; past it the `sub` is shown. */
export const FOREIGN_NAME_MAX_CHARS = 256

/** Largest `TRUSTED_ISSUERS_FILE` read, in bytes. */
export const TRUSTED_ISSUERS_FILE_MAX_BYTES = 256 * 1024

// Presence (docs/protocol.md §10, docs/presence.md). The environment overrides the grace and
// batch periods (PRESENCE_GRACE_MS, PRESENCE_BATCH_MS).

/** A user's last socket gone, how long before they leave the room's presence, ms (§10: 5000). */
export const PRESENCE_GRACE_MS = 5000
/** Shortest interval between two change batches of one room, ms (§10: at most one per second). */
export const PRESENCE_BATCH_MS = 1000
/** How often a node looks for batches that are due, ms. */
export const PRESENCE_FLUSH_TICK_MS = 250
/** Members per page of `rt:presence` (§10) and the most the server API lists at once (§8). */
export const PRESENCE_PAGE_SIZE = 1000
/** Most users one room's presence lists; later ones join the room unlisted until a place frees. */
export const PRESENCE_MAX_MEMBERS_PER_ROOM = 10_000
/** Most rooms with presence on one node; a socket joining a further room is in it unlisted. */
export const PRESENCE_MAX_ROOMS = 10_000
/** Most changes (joined plus left) one `rt:presence` message carries; a larger batch goes out as several in the same flush. */
export const PRESENCE_MAX_BATCH_CHANGES = 1000
/** Rooms one flush takes from Redis per round trip. */
export const PRESENCE_FLUSH_ROOMS_PER_CALL = 100
/** How often a node refreshes its heartbeat and looks for dead nodes, ms. */
export const PRESENCE_HEARTBEAT_MS = 3000
/**
 * A node whose heartbeat is older than this is dead and its members are
 * swept, ms. With the heartbeat and a batch this keeps a dead node's members
 * within §10's "grace period plus 15 s": 10 + 3 + 1.25 s.
 */
export const PRESENCE_NODE_TTL_MS = 10_000
/** Entries one sweep call removes from a dead node. */
export const PRESENCE_SWEEP_CHUNK = 500
/** How long a node remembers removals to replay them after a Redis restart, ms. */
export const PRESENCE_REPLAY_WINDOW_MS = 10_000
/** Longest `cursor` accepted, characters. */
export const PRESENCE_CURSOR_MAX_CHARS = 1024
// The server API and the per-user streams (docs/protocol.md §8, §9).

/** Path prefix of the server API on the realtime port (docs/protocol.md §8). */
export const SERVER_API_PREFIX = '/api/v1'

/** Largest request body the server API reads, in bytes: `data` (16 KiB) plus the rest of the request. */
export const MAX_API_BODY_BYTES = 20 * 1024

/** Largest serialized `data` of a publish, in bytes (docs/protocol.md §8). */
export const MAX_PUBLISH_DATA_BYTES = 16 * 1024

/** Deepest nesting of arrays and objects in a publish's `data`, in levels (docs/protocol.md §8, v1.2). */
export const MAX_PUBLISH_DATA_DEPTH_LEVELS = 64

/** How long a publish `id` stays idempotent per service client, in seconds (docs/protocol.md §8). */
export const PUBLISH_IDEMPOTENCY_TTL_SECONDS = 600

/** Publish ids a single node remembers without Redis, at most; the oldest go first. */
export const MAX_IDEMPOTENCY_KEYS = 100_000

/** Default sustained server-API rate per service client, requests per second (docs/protocol.md §8). */
export const DEFAULT_API_RATE_PER_SECOND = 100

/** Default server-API burst per service client, requests (docs/protocol.md §8). */
export const DEFAULT_API_BURST = 200

/** Service clients whose rate state a node holds at most; idle (full) buckets go first. */
export const MAX_API_RATE_BUCKETS = 10_000

/** Default newest entries kept per user stream (docs/protocol.md §9 `USER_STREAM_MAX`). */
export const DEFAULT_USER_STREAM_MAX = 100

/** Default age limit of a user-stream entry, in seconds (docs/protocol.md §9 `USER_STREAM_TTL`). */
export const DEFAULT_USER_STREAM_TTL_SECONDS = 86_400

/** Users' streams one node holds in memory (single node only); the least recently appended go first. */
export const DEFAULT_MAX_MEMORY_STREAMS = 10_000

/** Serialized `data` bytes one node holds in its memory streams (single node only); the oldest streams go first. */
export const MAX_MEMORY_STREAM_BYTES = 64 * 1024 * 1024

/** Service tokens whose signature check a node remembers (a service reuses one token for minutes). */
export const SERVICE_TOKEN_CACHE_SIZE = 256

/**
 * Bytes of entries one `rt:sync` emits before it waits for them to be
 * written: well under the 1 MiB a connection may have queued, which a full
 * stream (100 entries of up to 16 KiB) would pass.
 */
export const SYNC_BURST_BYTES = 256 * 1024

/** Longest an `rt:sync` waiting for its last burst to be written goes without looking again, in ms. */
export const SYNC_WAIT_POLL_MS = 50

/** Bytes of stream entries one user's `rt:sync`s may replay per {@link SYNC_REPLAY_WINDOW_MS} (docs/protocol.md §9, v1.2). */
export const SYNC_REPLAY_BUDGET_BYTES = 1024 * 1024

/** The window of the per-user replay budget, in ms. */
export const SYNC_REPLAY_WINDOW_MS = 10_000

/** Default Engine.IO ping interval, ms (`REALTIME_PING_INTERVAL_MS`; Socket.IO's own default). */
export const PING_INTERVAL_MS = 25_000

/** Default Engine.IO ping timeout, ms (`REALTIME_PING_TIMEOUT_MS`; Socket.IO's own default). */
export const PING_TIMEOUT_MS = 20_000

// Lifecycle events and webhooks (docs/protocol.md §16).

/** Default age limit of the event log, in seconds (docs/protocol.md §16 `EVENTS_RETENTION`: 7 days). */
export const DEFAULT_EVENTS_RETENTION_SECONDS = 7 * 86_400

/** Most entries the event log keeps, in Redis or in memory (docs/protocol.md §16). */
export const EVENTS_MAX_ENTRIES = 1_000_000

/** Most events one pull answers (docs/protocol.md §16 `limit`). */
export const EVENTS_PAGE_MAX = 1000

/** Events one pull answers when `limit` is absent. */
export const EVENTS_PAGE_DEFAULT = 100

/** How often a node trims the event log by age, ms. */
export const EVENTS_TRIM_INTERVAL_MS = 60_000

/** Key suffix of the event log's stream under the presence prefix (its scripts write it atomically). */
export const EVENTS_STREAM_SUFFIX = 'events'

/** Most events a single node (no Redis) keeps in memory; the oldest go first. */
export const EVENTS_MEMORY_MAX_ENTRIES = 100_000

/** Longest wait for a webhook's answer, ms (docs/protocol.md §16: 10 s). */
export const WEBHOOK_TIMEOUT_MS = 10_000

/** Delay before the first retry of a failed delivery, ms (§16: within 10 s; jitter adds up to half of it). */
export const WEBHOOK_FIRST_RETRY_MS = 5_000

/** Longest delay between two retries, ms (§16: capped at 1 hour). */
export const WEBHOOK_MAX_RETRY_MS = 3_600_000

/** How long a delivery is retried from its event's time before it is dropped, ms (§16: at least 24 hours; 25 h). */
export const WEBHOOK_RETRY_WINDOW_MS = 25 * 3_600_000

/** Events one node holds per endpoint (read, not yet acknowledged): the queue a slow endpoint can fill. */
export const WEBHOOK_QUEUE_MAX_EVENTS = 1000

/** Deliveries in flight at once per endpoint and node. */
export const WEBHOOK_CONCURRENCY = 8

/** How often a node looks for due retries (and, alone, for new events), ms. */
export const WEBHOOK_POLL_MS = 200

/** Longest a clustered node's blocking read (`XREADGROUP … BLOCK`) waits for new events before it reads again, ms. */
export const WEBHOOK_READ_BLOCK_MS = 5_000

/** Pause after a read that returned events, so the next read takes a batch rather than one event, ms. */
export const WEBHOOK_READ_BATCH_MS = 50

/** Most events one read takes from the log per endpoint. */
export const WEBHOOK_READ_MAX_EVENTS = 100

/** Most bytes of a webhook answer's body drained (and dropped) so its connection can be reused; past it, the connection closes. */
export const WEBHOOK_ANSWER_MAX_BYTES = 16_384

/** Event bodies kept serialized for the other endpoints (with several endpoints, each event is serialized once). */
export const WEBHOOK_BODY_CACHE_ENTRIES = 1024

/** Idle time after which another node claims an event from the node that read it (that node died), ms. */
export const WEBHOOK_CLAIM_IDLE_MS = 30_000

/** How often a node claims abandoned events and marks the ones it holds as alive, ms. */
export const WEBHOOK_CLAIM_INTERVAL_MS = 5_000

/** Most endpoints `WEBHOOKS` may list. */
export const WEBHOOK_MAX_ENDPOINTS = 32

// DPoP-bound tokens (docs/protocol.md §15, docs/dpop.md).

/** Most proof `jti`s a node alone holds in memory (109 bytes each measured with UUID `jti`s: about 10 MiB; 32 MiB with 256-character ones). */
export const DPOP_REPLAY_CACHE_MAX_ENTRIES = 100_000
/** DPoP proof headers whose public key stays imported (a client signs every proof under one header): about 1 KiB each. */
export const DPOP_PROOF_KEY_CACHE_ENTRIES = 1024
/** Longest wait for Redis to record a proof's `jti`, ms: past it the handshake is refused `unavailable`. */
export const DPOP_REPLAY_REDIS_TIMEOUT_MS = 1000
/** How long one DPoP nonce is handed out, seconds; the previous window's nonce is still accepted. */
export const DPOP_NONCE_WINDOW_SECONDS = 300
/** Shortest `REALTIME_DPOP_NONCE` secret, characters: the nonces are HMACs under it. */
export const DPOP_NONCE_SECRET_MIN_CHARS = 32
