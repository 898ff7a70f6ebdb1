-- Indexes for the cron's pruning and the per-session refresh limit (issue 15 item 5).

-- When a session stopped mattering: its revocation or its absolute expiry, whichever came first.
-- The cron finds sessions past it through this; the expression must match edge/auth/prune.ts.
CREATE INDEX sessions_by_end ON sessions(min(expires_at, coalesce(revoked_at, expires_at)));

-- A session's recent spends: the per-session refresh limit counts them.
CREATE INDEX refresh_tokens_by_sid_spent ON refresh_tokens(sid, spent_at);
