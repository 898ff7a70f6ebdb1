-- DPoP (docs/protocol.md §15; RFC 9449 §5). A session opened with a DPoP proof is bound to the
-- proof's key: its refresh tokens are spent only with a proof by that key, and every access token
-- minted for it carries `cnf.jkt`. NULL: a bearer session (never bound later, docs/dpop.md).
ALTER TABLE sessions ADD COLUMN jkt TEXT;
