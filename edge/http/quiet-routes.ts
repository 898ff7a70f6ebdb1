// No worker-only imports: the local runner (edge/local/quiet-output.ts) reads this in Node.

/**
 * Routes answered often and uneventfully, whose successful answers are not
 * logged: every realtime node polls the revocation feed every few seconds,
 * which would otherwise be most of the log (and of its bill).
 */
export const QUIET_ROUTES = new Set(['GET /auth/revocations', 'GET /healthz'])
