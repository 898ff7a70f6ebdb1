/**
 * Routes answered often and uneventfully, whose successful answers are not
 * logged: every realtime node polls the revocation feed every few seconds,
 * which would otherwise be most of the log (and of its bill).
 */
export const QUIET_ROUTES = new Set(['GET /auth/revocations', 'GET /healthz'])
