-- Federated login (docs/protocol.md §14). Times are Unix seconds.

-- Which local user an upstream account is: one row per (provider, upstream sub). Never matched by email.
CREATE TABLE federated_links (
  provider      TEXT NOT NULL,                 -- the provider's id in FEDERATION
  upstream_sub  TEXT NOT NULL,                 -- the ID token's sub at that provider
  sub           TEXT NOT NULL REFERENCES users(sub),
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  PRIMARY KEY (provider, upstream_sub)
);
CREATE INDEX federated_links_by_sub ON federated_links(sub, created_at);

-- Flows whose callback has run: a flow cookie (and the code it carried) is good for one callback.
CREATE TABLE federated_flows_used (
  flow_id       TEXT PRIMARY KEY,              -- the flow's random id, from its signed cookie
  expires_at    INTEGER NOT NULL               -- when the cookie would have expired anyway
);
CREATE INDEX federated_flows_used_by_expiry ON federated_flows_used(expires_at);
