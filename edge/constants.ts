/**
 * Every fixed number the edge uses, with its unit. Deployment-tunable values
 * are in `config.ts`; these are the ones that are not.
 */

import { MAX_ROOM_GRANT_TTL_SECONDS, MAX_SERVICE_TOKEN_TTL_SECONDS } from '../shared/constants.ts'

/** Bytes of randomness in a refresh token (256 bits, docs/protocol.md §3). */
export const REFRESH_TOKEN_BYTES = 32

/**
 * How long an isolate keeps using the active signing key it fetched from the
 * `KEYS` Durable Object before asking again, in seconds. This is the bound on
 * signing with a key that was just retired; retired keys stay published for
 * this long on top of the token lifetime, so invariant 3 still holds.
 */
export const ACTIVE_KEY_CACHE_SECONDS = 30

/** Login failures for one (username, address) pair within the window before 429 (docs/protocol.md §3). */
export const LOGIN_FAILURES_PER_USER_ADDRESS = 5

/** Login failures from one address, across usernames, within the window before 429. */
export const LOGIN_FAILURES_PER_ADDRESS = 50

/** The login-throttle window, in seconds (15 minutes, docs/protocol.md §3). */
export const LOGIN_THROTTLE_WINDOW_SECONDS = 15 * 60

/** Revocation events returned by one page of the feed. */
export const REVOCATION_FEED_PAGE_SIZE = 500

/** How long revocation events are kept after their `until`, in seconds (for audit). */
export const REVOCATION_RETENTION_SECONDS = 7 * 24 * 3600

/** Longest username, in code points (docs/protocol.md §3). */
export const USERNAME_MAX_CHARS = 64

/** Longest password, in code points (docs/protocol.md §3). */
export const PASSWORD_MAX_CHARS = 1024

/** Most room patterns a user may hold. */
export const ROOMS_MAX_ENTRIES = 64

/** Lifetime of a revocation push token, in seconds (docs/protocol.md §6: within 60 s). */
export const REVOCATION_PUSH_TOKEN_TTL_SECONDS = 60

/** Events per push request. */
export const REVOCATION_PUSH_BATCH = 100

/** Timeout of one push request, in milliseconds. */
export const REVOCATION_PUSH_TIMEOUT_MS = 5000

/** Longest wait between push retries to one target, in seconds (backoff doubles from 1 s). */
export const REVOCATION_PUSH_BACKOFF_MAX_SECONDS = 60

/** Bytes of randomness in a service client's secret (256 bits, docs/protocol.md §8). */
export const CLIENT_SECRET_BYTES = 32

/** Longest client_id the token endpoint looks up, in characters (ours are 36). */
export const CLIENT_ID_MAX_CHARS = 128

/** Most clients one `GET /admin/clients` lists (oldest first). */
export const CLIENTS_LIST_MAX = 1000

/** Longest `sub` or `sid` a room grant may be issued for, in characters. */
export const GRANT_SUBJECT_MAX_CHARS = 256

/**
 * How long a `client` revocation event stays in force, in seconds, before the
 * margin `revocationUntil` adds: the longest a service token or a room grant
 * of that client can live, since both stop at the event (docs/protocol.md §8,
 * §11). Grants live longest (up to an hour).
 */
export const CLIENT_REVOCATION_TTL_SECONDS = Math.max(
  MAX_SERVICE_TOKEN_TTL_SECONDS,
  MAX_ROOM_GRANT_TTL_SECONDS,
)

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
 * Live sessions one user may hold (default of `MAX_SESSIONS_PER_USER`,
 * docs/protocol.md §3 v1.2); a login beyond it revokes the least recently
 * used, with its revocation event.
 */
export const MAX_SESSIONS_PER_USER = 100

/** Longest `User-Agent` kept on a session row, in code points (the rest is cut). */
export const USER_AGENT_MAX_CHARS = 256

/**
 * Rows the cron deletes per table per run, so one run stays well inside a
 * Worker's limits however large the backlog; the rest goes on the next runs.
 */
export const PRUNE_BATCH_ROWS = 1000

/** Shortest new password, in code points (docs/protocol.md §13). */
export const PASSWORD_MIN_CHARS = 8

/** Longest email address, in characters (RFC 5321's path limit). */
export const EMAIL_MAX_CHARS = 254

/** Lifetime of a password-reset token, in seconds (docs/protocol.md §13: 30 minutes). */
export const RESET_TOKEN_TTL_SECONDS = 30 * 60

/** Lifetime of an email-verification token, in seconds (docs/protocol.md §13: 24 hours). */
export const VERIFY_TOKEN_TTL_SECONDS = 24 * 3600

/** Default lifetime of an invite, in seconds (docs/protocol.md §13: 7 days). */
export const INVITE_DEFAULT_TTL_SECONDS = 7 * 24 * 3600

/** Shortest invite lifetime an admin may ask for, in seconds. */
export const INVITE_MIN_TTL_SECONDS = 60

/** Longest invite lifetime an admin may ask for, in seconds (30 days). */
export const INVITE_MAX_TTL_SECONDS = 30 * 24 * 3600

/** Unused, unexpired invites that may be outstanding at once; past it `POST /admin/invites` is 409. */
export const INVITES_OUTSTANDING_MAX = 1000

/** Sign-ups from one client address per window before 429 (docs/protocol.md §13). */
export const SIGNUPS_PER_ADDRESS = 50

/** The sign-up throttle window, in seconds (10 minutes). */
export const SIGNUP_WINDOW_SECONDS = 10 * 60

/** Forgot-password requests for one account (as named in the request) per window before 429. */
export const FORGOT_PER_ACCOUNT = 10

/** Forgot-password requests from one client address per window before 429. */
export const FORGOT_PER_ADDRESS = 50

/** The forgot-password throttle window, in seconds (1 hour). */
export const FORGOT_WINDOW_SECONDS = 3600

/** Mails sent to one address per {@link MAIL_WINDOW_SECONDS}; more are dropped (logged), never queued. */
export const MAILS_PER_ADDRESS_PER_HOUR = 5

/** Mails sent for one account per {@link MAIL_WINDOW_SECONDS}; more are dropped (logged). */
export const MAILS_PER_ACCOUNT_PER_HOUR = 10

/** The mail-limit window, in seconds; `mail_log` rows older than it are pruned. */
export const MAIL_WINDOW_SECONDS = 3600

/** How long the local outbox keeps a mail, in seconds (1 day). */
export const OUTBOX_RETENTION_SECONDS = 24 * 3600

/** Most mails the local outbox keeps; the cron drops the oldest past it. */
export const OUTBOX_MAX_ROWS = 1000

/** Most mails one `GET /dev/outbox` lists, newest first. */
export const OUTBOX_LIST_MAX = 100

/** Users per `GET /admin/users` page when `limit` is not given. */
export const USERS_PAGE_DEFAULT = 50

/** Most users per `GET /admin/users` page (docs/protocol.md §13). */
export const USERS_PAGE_MAX = 200

/** Timeout of one mail-webhook request, in milliseconds. */
export const MAIL_WEBHOOK_TIMEOUT_MS = 10_000

/** Lifetime of a passkey challenge, in seconds (docs/protocol.md §14: 5 minutes). */
export const PASSKEY_CHALLENGE_TTL_SECONDS = 5 * 60

/** Random bytes in a passkey challenge (docs/protocol.md §14: at least 128 bits; we use 256). */
export const PASSKEY_CHALLENGE_BYTES = 32

/** Passkey options (any ceremony) one client address may ask for per window before 429. */
export const PASSKEY_OPTIONS_PER_ADDRESS = 100

/** The passkey-options throttle window, in seconds (10 minutes). */
export const PASSKEY_OPTIONS_WINDOW_SECONDS = 10 * 60

/** Passkeys one user may hold; a registration beyond it is 409 `conflict`. */
export const PASSKEYS_PER_USER_MAX = 20

/** Longest passkey name, in characters. */
export const PASSKEY_NAME_MAX_CHARS = 64

/** Longest credential id accepted, in base64url characters (WebAuthn allows 1023 bytes). */
export const PASSKEY_CREDENTIAL_ID_MAX_CHARS = 1364

/** Longest base64url field of a WebAuthn response (attestation object, client data, signature...), in characters. */
export const PASSKEY_RESPONSE_FIELD_MAX_CHARS = 16 * 1024

/**
 * Shards of the DPoP `jti` replay cache (`DPOP_JTIS` Durable Objects). A `jti` goes to the
 * shard picked by a keyed hash of it, so no one instance carries every proof and a client
 * cannot aim its `jti`s at one shard (docs/dpop.md).
 */
export const DPOP_REPLAY_SHARDS = 16

/**
 * Most live `jti`s one replay shard holds (rows of its SQLite table). Full of live rows, it
 * refuses new proofs with 503 `unavailable` rather than forget one early. At the 5-minute TTL,
 * 16 shards of 50,000 admit ~2,600 proofs a second; a row is under 400 bytes (a `jti` is at
 * most 256 characters), so a full shard stores under 20 MB.
 */
export const DPOP_REPLAY_MAX_ROWS_PER_SHARD = 50_000

/** How long one server nonce window lasts, in seconds; a nonce is accepted in its window and the next. */
export const DPOP_NONCE_WINDOW_SECONDS = 60

/** How often an idle replay shard wakes to drop expired `jti`s, in milliseconds. */
export const DPOP_REPLAY_PRUNE_INTERVAL_MS = 5 * 60 * 1000
