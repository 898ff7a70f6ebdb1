-- Passkeys (docs/protocol.md §14). Times are Unix seconds.

-- A user's WebAuthn credentials: the public key (COSE, base64url) and the signature counter.
CREATE TABLE passkeys (
  id            TEXT PRIMARY KEY,              -- the credential id, base64url
  sub           TEXT NOT NULL REFERENCES users(sub),
  name          TEXT NOT NULL,
  public_key    TEXT NOT NULL,                 -- COSE public key, base64url
  counter       INTEGER NOT NULL,              -- the authenticator's signature counter (0: none kept)
  transports    TEXT NOT NULL,                 -- JSON array of transport hints
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER
);
CREATE INDEX passkeys_by_sub ON passkeys(sub, created_at);

-- Challenges: single use (the row is deleted when used), bound to one ceremony, expiring.
CREATE TABLE passkey_challenges (
  id            TEXT PRIMARY KEY,              -- the challengeId given to the client
  challenge     TEXT NOT NULL UNIQUE,          -- base64url of 32 random bytes
  ceremony      TEXT NOT NULL CHECK (ceremony IN ('register', 'login', 'signup')),
  sub           TEXT,                          -- register: the user; signup: the sub to create
  username_key  TEXT,                          -- signup: the username asked for
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
);
CREATE INDEX passkey_challenges_by_expiry ON passkey_challenges(expires_at);
