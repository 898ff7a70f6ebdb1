import type { RealtimeContext } from '../context.ts'
import { CLUSTER_REVOCATION_EVENT, REVOCATION_PRUNE_INTERVAL_MS } from '../constants.ts'
import type { Revocation } from '../types.ts'
import { refetchKeysOnKeyEvent } from './key-events.ts'

// Defined with the types every module reads; still importable from here, where it was.
export type { Revocation }

/** Revocations as a realtime server applies them. */
export interface RevocationApplier {
  /** An event from the edge (push, pull, or `revoke()`): enforce here, share with the cluster; returns local sockets kicked. */
  fromEdge(event: Revocation): number
  /** {@link RevocationApplier.fromEdge} for each of a push's or a feed page's events; returns how many there were. */
  fromEdgeAll(events: readonly Revocation[]): number
  /** Stop pruning. */
  stop(): void
}

/**
 * Apply revocations on this node and fan them out to the cluster: record the
 * event, disconnect the local sockets it covers, and (clustered) persist it to
 * Redis and tell the other nodes, which apply it locally only. A node that
 * (re)connects to Redis loads what it missed.
 *
 * @param ctx - the server's shared parts
 * @param options - `onApplied`: told of each event from the edge
 * @example
 * ```ts
 * const revoke = createRevocationApplier(ctx)
 * revoke.fromEdge({ kind: 'session', id: 's-1', at: now, until: now + 900 })
 * ```
 */
export function createRevocationApplier(
  ctx: RealtimeContext,
  options: {
    /** Each event from the edge, on every node that receives it (the lifecycle log records it once, docs/protocol.md §16). */
    onApplied?: (event: Revocation) => void
  } = {},
): RevocationApplier {
  const { cluster, io, keySet, logger, now, revocations, sessions } = ctx
  /** Record and enforce on this node only. */
  const applyLocal = (event: Revocation): number => {
    if (!revocations.add(event, now() / 1000)) return 0
    // An emergency rotation: learn the new key at once, so new logins connect (docs/protocol.md §4).
    if (event.kind === 'key') refetchKeysOnKeyEvent(keySet, logger)
    return sessions.revoke(event)
  }
  if (cluster) {
    io.on(CLUSTER_REVOCATION_EVENT, (event) => void applyLocal(event))
    // A node that was away (or whose Redis was) picks up what it missed.
    cluster.onConnect(() => {
      cluster.loadAll().then(
        (events) => events.forEach(applyLocal),
        (err: Error) => logger('warn', 'revocations not loaded from redis', { error: err.message }),
      )
    })
  }
  const prune = setInterval(() => revocations.prune(now() / 1000), REVOCATION_PRUNE_INTERVAL_MS)
  prune.unref()
  const applier: RevocationApplier = {
    fromEdgeAll(events) {
      for (const event of events) applier.fromEdge(event)
      return events.length
    },
    fromEdge(event) {
      const kicked = applyLocal(event)
      options.onApplied?.(event)
      if (cluster) {
        io.serverSideEmit(CLUSTER_REVOCATION_EVENT, event)
        cluster
          .persist(event)
          .catch((err: Error) =>
            logger('warn', 'revocation not stored in redis', { error: err.message }),
          )
      }
      return kicked
    },
    stop: () => clearInterval(prune),
  }
  return applier
}
