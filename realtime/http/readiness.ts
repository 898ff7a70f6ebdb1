import type { RealtimeContext } from '../context.ts'

/**
 * Why this node is not ready (`/readyz`, `notReadyReasons()`): draining, keys
 * not yet loaded (the edge's, or another trusted issuer's), the revocation
 * feed not yet read, Redis disconnected.
 *
 * @param ctx - the server's shared parts
 * @param keysLoaded - whether the background key load has succeeded
 * @param issuers - reasons from the other trusted issuers (one per issuer whose keys are missing)
 * @returns a function giving the reasons; empty when ready
 * @example
 * ```ts
 * const notReadyReasons = readiness(ctx, keys.loaded)
 * ```
 */
export function readiness(
  ctx: RealtimeContext,
  keysLoaded: () => boolean,
  issuers: () => string[] = () => [],
): () => string[] {
  return function notReadyReasons() {
    if (ctx.state.draining) return ['draining']
    const reasons: string[] = []
    if (!keysLoaded() || !ctx.keySet.isReady())
      reasons.push('signing keys not loaded from the edge')
    reasons.push(...issuers())
    if (ctx.feed && !ctx.feed.synced()) reasons.push('revocation feed not yet read')
    if (ctx.cluster && !ctx.cluster.connected()) {
      reasons.push('redis disconnected (degraded: serving local sockets only)')
    }
    return reasons
  }
}
