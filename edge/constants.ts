/**
 * Every fixed number the edge uses, with its unit. Deployment-tunable values
 * are in `config.ts`; these are the ones that are not.
 */

/** Bytes of randomness in a refresh token (256 bits, PROTOCOL §3). */
export const REFRESH_TOKEN_BYTES = 32

/**
 * How long an isolate keeps using the active signing key it fetched from the
 * `KEYS` Durable Object before asking again, in seconds. This is the bound on
 * signing with a key that was just retired; retired keys stay published for
 * this long on top of the token lifetime, so invariant 3 still holds.
 */
export const ACTIVE_KEY_CACHE_SECONDS = 30

/** Login failures for one (username, address) pair within the window before 429 (PROTOCOL §3). */
export const LOGIN_FAILURES_PER_USER_ADDRESS = 5

/** Login failures from one address, across usernames, within the window before 429. */
export const LOGIN_FAILURES_PER_ADDRESS = 50

/** The login-throttle window, in seconds (15 minutes, PROTOCOL §3). */
export const LOGIN_THROTTLE_WINDOW_SECONDS = 15 * 60

/** Revocation events returned by one page of the feed. */
export const REVOCATION_FEED_PAGE_SIZE = 500

/** How long revocation events are kept after their `until`, in seconds (for audit). */
export const REVOCATION_RETENTION_SECONDS = 7 * 24 * 3600

/** Longest username, in code points (PROTOCOL §3). */
export const USERNAME_MAX_CHARS = 64

/** Longest password, in code points (PROTOCOL §3). */
export const PASSWORD_MAX_CHARS = 1024

/** Most room patterns a user may hold. */
export const ROOMS_MAX_ENTRIES = 64

/** Lifetime of a revocation push token, in seconds (PROTOCOL §6: within 60 s). */
export const REVOCATION_PUSH_TOKEN_TTL_SECONDS = 60

/** Events per push request. */
export const REVOCATION_PUSH_BATCH = 100

/** Timeout of one push request, in milliseconds. */
export const REVOCATION_PUSH_TIMEOUT_MS = 5000

/** Longest wait between push retries to one target, in seconds (backoff doubles from 1 s). */
export const REVOCATION_PUSH_BACKOFF_MAX_SECONDS = 60

/** The refresh-throttle window, in seconds. */
export const REFRESH_THROTTLE_WINDOW_SECONDS = 60

/**
 * Refreshes of one session within the window before 429 (default of
 * `REFRESH_LIMIT_PER_SESSION`). The SDK refreshes 5 s before `exp`, so at the
 * shortest allowed access-token lifetime (10 s) a client refreshes 12 times a
 * minute; 30 leaves room for retries and still turns a refresh loop away.
 */
export const REFRESH_LIMIT_PER_SESSION = 30

/**
 * Refresh requests from one client address within the window before 429
 * (default of `REFRESH_LIMIT_PER_ADDRESS`). Counts every attempt, unknown
 * tokens included, before any D1 work. Many users can share an address (NAT,
 * a browser with many tabs at a short token lifetime): 300 a minute is 25
 * sessions at the shortest lifetime, or 1,500 at the default 300 s.
 */
export const REFRESH_LIMIT_PER_ADDRESS = 300

/**
 * Live sessions one user may hold (default of `MAX_SESSIONS_PER_USER`); a
 * login beyond it revokes the oldest, with its revocation event.
 */
export const MAX_SESSIONS_PER_USER = 10

/**
 * Rows the cron deletes per table per run, so one run stays well inside a
 * Worker's limits however large the backlog; the rest goes on the next runs.
 */
export const PRUNE_BATCH_ROWS = 1000
