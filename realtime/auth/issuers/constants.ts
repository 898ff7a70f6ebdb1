/**
 * Bounds and timings of the trusted issuers besides the edge (docs/protocol.md §12).
 */

/** Most issuers realtime trusts besides the edge: each holds a key set and a discovery retry. */
export const MAX_TRUSTED_ISSUERS = 16

/** Largest discovery document read, in bytes. */
export const DISCOVERY_MAX_BYTES = 64 * 1024

/** Timeout of one discovery fetch (headers and body), in ms. */
export const DISCOVERY_TIMEOUT_MS = 5_000

/** Wait between attempts to load an issuer's discovery document or keys while they fail, in ms. */
export const ISSUER_LOAD_RETRY_MS = 2_000

/** Longest `name` taken from another issuer's token for display; past it the `sub` is shown. */
export const FOREIGN_NAME_MAX_CHARS = 256

/** Largest `TRUSTED_ISSUERS_FILE` read, in bytes. */
export const TRUSTED_ISSUERS_FILE_MAX_BYTES = 256 * 1024
