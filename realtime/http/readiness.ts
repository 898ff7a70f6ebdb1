import type { RealtimeContext } from '../context.ts'

/**
 * Why this node is not ready (`/readyz`, `notReadyReasons()`): draining, keys
 * not yet loaded, the revocation feed not yet read, Redis disconnected.
 *
 * @param ctx - the server's shared parts
 * @param keysLoaded - whether the background key load has succeeded
 * @returns a function giving the reasons; empty when ready
 * @example
 * ```ts
 * const notReadyReasons = readiness(ctx, keys.loaded)
 * ```
 */
export function readiness(ctx: RealtimeContext, keysLoaded: () => boolean): () => string[] {
  return function notReadyReasons() {
    if (ctx.state.draining) return ['draining']
    const reasons: string[] = []
    if (!keysLoaded() || !ctx.keySet.isReady())
      reasons.push('signing keys not loaded from the edge')
    if (ctx.feed && !ctx.feed.synced()) reasons.push('revocation feed not yet read')
    if (ctx.cluster && !ctx.cluster.connected()) {
      reasons.push('redis disconnected (degraded: serving local sockets only)')
    }
    return reasons
  }
}
