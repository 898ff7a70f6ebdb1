-- Accounts (docs/protocol.md §13) and the least-recently-used session cap (§3, v1.2). Times are Unix seconds.

-- Sessions: how they began, when they were last used (login or refresh), and from which user agent.
ALTER TABLE sessions ADD COLUMN last_used_at INTEGER;
UPDATE sessions SET last_used_at = created_at;
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'password';
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
-- The cap picks a user's least recently used live session through this.
CREATE INDEX sessions_by_sub_used ON sessions(sub, last_used_at) WHERE revoked_at IS NULL;

-- Users: an email (optional), when it was verified, and erasure. A deleted user's row stays,
-- emptied, so its `sub` is never handed out again.
ALTER TABLE users ADD COLUMN email TEXT;
ALTER TABLE users ADD COLUMN email_key TEXT;              -- lower case: what lookups match on
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
CREATE UNIQUE INDEX users_by_email ON users(email_key) WHERE email_key IS NOT NULL;
-- Admin listing pages by (created_at, sub).
CREATE INDEX users_by_created ON users(created_at, sub);

-- Verification and reset tokens: only the SHA-256 is kept; a new one of a kind voids the previous.
CREATE TABLE mail_tokens (
  token_hash  TEXT PRIMARY KEY,
  sub         TEXT NOT NULL REFERENCES users(sub),
  kind        TEXT NOT NULL CHECK (kind IN ('verify', 'reset')),
  email_key   TEXT,                            -- the address a verify token proves
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
CREATE INDEX mail_tokens_by_sub ON mail_tokens(sub, kind);
CREATE INDEX mail_tokens_by_expiry ON mail_tokens(expires_at);

-- Invites for SIGNUP=invite: only the SHA-256 is kept; single use, expiring.
CREATE TABLE invites (
  invite_hash TEXT PRIMARY KEY,
  scope       TEXT,                            -- NULL: SIGNUP_SCOPE
  rooms       TEXT,                            -- JSON array; NULL: SIGNUP_ROOMS
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
CREATE INDEX invites_by_expiry ON invites(expires_at);

-- Every mail sent, for the per-hour limits per address and per account (pruned after the hour).
CREATE TABLE mail_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  sub         TEXT,
  email_key   TEXT NOT NULL,
  at          INTEGER NOT NULL
);
CREATE INDEX mail_log_by_email ON mail_log(email_key, at);
CREATE INDEX mail_log_by_sub ON mail_log(sub, at);

-- MAILER=outbox (local only): the mail itself, listed at GET /dev/outbox.
CREATE TABLE outbox (
  id          TEXT PRIMARY KEY,
  to_addr     TEXT NOT NULL,
  subject     TEXT NOT NULL,
  text        TEXT NOT NULL,
  kind        TEXT NOT NULL CHECK (kind IN ('verify', 'reset', 'notice')),
  created_at  INTEGER NOT NULL
);
CREATE INDEX outbox_by_created ON outbox(created_at);
