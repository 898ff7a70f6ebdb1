/**
 * Bounds and defaults of the server API and the per-user streams
 * (docs/protocol.md §8, §9). Values a deployment changes come from the
 * configuration (realtime/config.ts); these are where it starts.
 */

/** Path prefix of the server API on the realtime port (docs/protocol.md §8). */
export const SERVER_API_PREFIX = '/api/v1'

/** Largest request body the server API reads, in bytes: `data` (16 KiB) plus the rest of the request. */
export const MAX_API_BODY_BYTES = 20 * 1024

/** Largest serialized `data` of a publish, in bytes (docs/protocol.md §8). */
export const MAX_PUBLISH_DATA_BYTES = 16 * 1024

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

/** Key prefix of the server API's Redis state (idempotency keys, user streams). */
export const API_REDIS_PREFIX = 'edgegate:api:'

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
