-- Users, sessions, refresh tokens and the revocation log. Times are Unix seconds.

CREATE TABLE users (
  sub           TEXT PRIMARY KEY,              -- stable random id, never the username
  username      TEXT NOT NULL,                 -- as created (NFC), for display (`name` claim)
  username_key  TEXT NOT NULL UNIQUE,          -- NFKC + lower case: what logins match on
  password_hash TEXT NOT NULL,                 -- self-describing, e.g. $scrypt$ln=14,r=8,p=5$salt$hash
  scope         TEXT NOT NULL,
  rooms         TEXT NOT NULL,                 -- JSON array of room patterns
  created_at    INTEGER NOT NULL,
  disabled_at   INTEGER
);

-- A session is one refresh-token family: one login, many rotations.
CREATE TABLE sessions (
  sid         TEXT PRIMARY KEY,
  sub         TEXT NOT NULL REFERENCES users(sub),
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,                -- absolute lifetime; rotation never extends it
  revoked_at  INTEGER,
  revoked_why TEXT                             -- logout | reuse | user_disabled
);
CREATE INDEX sessions_by_sub ON sessions(sub) WHERE revoked_at IS NULL;

-- Only the SHA-256 of each token is stored. A row is spent once: spent_at set.
CREATE TABLE refresh_tokens (
  token_hash  TEXT PRIMARY KEY,
  sid         TEXT NOT NULL REFERENCES sessions(sid),
  created_at  INTEGER NOT NULL,
  spent_at    INTEGER
);
CREATE INDEX refresh_tokens_by_sid ON refresh_tokens(sid);

-- The revocation log; `cursor` is the monotonic position the feed pages by.
CREATE TABLE revocations (
  cursor  INTEGER PRIMARY KEY AUTOINCREMENT,
  kind    TEXT NOT NULL CHECK (kind IN ('session', 'user', 'key')),
  id      TEXT NOT NULL,
  at      INTEGER NOT NULL,
  until   INTEGER NOT NULL
);
CREATE INDEX revocations_by_until ON revocations(until);
