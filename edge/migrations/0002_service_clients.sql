-- Service clients (docs/protocol.md §8) and the `client` revocation kind (§6). Times are Unix seconds.

CREATE TABLE clients (
  client_id    TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  scope        TEXT NOT NULL,                  -- space-separated, a subset of the service scopes
  secret_hash  TEXT NOT NULL,                  -- base64url SHA-256 of the secret; the secret itself is never stored
  created_at   INTEGER NOT NULL,
  disabled_at  INTEGER
);

-- SQLite cannot change a CHECK constraint in place: rebuild the revocation log
-- with `client` allowed, keeping every cursor. The AUTOINCREMENT high-water
-- mark must survive too (pruning may have deleted the newest rows' elders or
-- all rows), or cursors would be handed out again and a realtime node that has
-- already seen cursor N would skip new events up to N. A placeholder row at the
-- old high-water mark carries it into the new table's sequence, then goes.
CREATE TABLE revocations_next (
  cursor  INTEGER PRIMARY KEY AUTOINCREMENT,
  kind    TEXT NOT NULL CHECK (kind IN ('session', 'user', 'key', 'client')),
  id      TEXT NOT NULL,
  at      INTEGER NOT NULL,
  until   INTEGER NOT NULL
);
INSERT INTO revocations_next (cursor, kind, id, at, until)
  SELECT cursor, kind, id, at, until FROM revocations;
INSERT INTO revocations_next (cursor, kind, id, at, until)
  SELECT seq, 'key', '', 0, 0 FROM sqlite_sequence
  WHERE name = 'revocations' AND seq > (SELECT COALESCE(MAX(cursor), 0) FROM revocations);
DELETE FROM revocations_next WHERE id = '' AND at = 0 AND until = 0;
DROP TABLE revocations;
ALTER TABLE revocations_next RENAME TO revocations;
CREATE INDEX revocations_by_until ON revocations(until);
