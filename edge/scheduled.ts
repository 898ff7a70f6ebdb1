import { pruneAccounts } from './accounts/prune.ts'
import { pruneSessions } from './auth/prune.ts'
import { log } from './http/log.ts'
import { keyStore } from './keys/store.ts'
import { pruneRevocations } from './revocations/log.ts'
import { kickRevocationPush } from './revocations/push.ts'

/**
 * The cron trigger's work, given the clock: rotate the signing key when its
 * period is up (and the next key is ready), drop keys whose tokens have all
 * expired, prune ended sessions with their refresh tokens, spent or expired mail
 * tokens and invites, the mail log and outbox, expired passkey challenges, and old revocation
 * events (bounded batches per run), and nudge the revocation pusher.
 *
 * @param env - the worker's bindings
 * @param options - `now` in Unix seconds
 */
export async function runScheduledMaintenance(env: Env, { now }: { now: number }): Promise<void> {
  const result = await keyStore(env).rotate(now, 'scheduled')
  if (result.kind === 'rotated')
    log('info', 'signing key rotated', { active: result.active, next: result.next })
  const sessions = await pruneSessions(env.DB, now)
  if (sessions.refreshTokens > 0 || sessions.sessions > 0)
    log('info', 'sessions pruned', { ...sessions })
  const accounts = await pruneAccounts(env.DB, now)
  if (Object.values(accounts).some((n) => n > 0))
    log('info', 'account rows pruned', { ...accounts })
  const pruned = await pruneRevocations(env.DB, now)
  if (pruned > 0) log('info', 'revocation events pruned', { count: pruned })
  // A kick lost with its request (the isolate died) is caught up here.
  await kickRevocationPush(env)
}
