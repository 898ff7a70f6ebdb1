import type { RealtimeContext } from '../context.ts'
import type { EventDefinition } from '../messages/registry.ts'
import { PRESENCE_GRACE_MS } from '../constants.ts'
import type { OnTransition } from '../lifecycle/types.ts'
import { createPresenceEvent } from './event.ts'
import { createPresence, type Presence, type PresenceSettings } from './presence.ts'
import { createRedisStore } from './redis-store.ts'

/**
 * A realtime server's presence (docs/protocol.md §10): in Redis when
 * clustered, else this node's memory; following the main namespace's joins
 * and leaves, and answering `rt:presence` through the event registry.
 *
 * @param ctx - the server's shared parts
 * @param registry - the event registry `rt:presence` is added to
 * @param settings - grace, batching and bounds
 * @param onTransition - lifecycle transitions of the memory store (docs/protocol.md §16)
 * @example
 * ```ts
 * const presence = presenceForServer(ctx, registry, options.presence)
 * ```
 */
export function presenceForServer(
  ctx: Pick<RealtimeContext, 'io' | 'metrics' | 'now' | 'logger' | 'cluster'>,
  registry: Map<string, EventDefinition<any>>,
  settings: PresenceSettings = {},
  onTransition?: OnTransition,
): Presence {
  const { cluster } = ctx
  const presence = createPresence({
    io: ctx.io,
    registry: ctx.metrics.registry,
    now: ctx.now,
    logger: ctx.logger,
    ...settings,
    ...(onTransition && { onTransition }),
    ...(cluster && {
      store: createRedisStore({
        client: cluster.client,
        onConnect: cluster.onConnect,
        // A closed node's users keep their grace: they may reconnect elsewhere.
        closeTtlMs: settings.graceMs ?? PRESENCE_GRACE_MS,
      }),
    }),
  })
  presence.install(ctx.io.of('/'))
  registry.set('rt:presence', createPresenceEvent(presence))
  return presence
}
