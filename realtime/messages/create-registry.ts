import { createBuiltinEvents, type BuiltinEventDeps } from './builtin-events.ts'
import { RESERVED_EVENTS, type EventDefinition } from './registry.ts'

/**
 * The registry of a server: the built-in `rt:*` events plus the application's.
 *
 * @param events - the application's events by name. @default {}
 * @param deps - what the built-in events read: `streams` for `rt:sync`, `grants` and `rooms` (the caps) for `rt:join`
 * @throws TypeError when an application event takes a reserved or `rt:` name
 * @example
 * ```ts
 * const registry = createEventRegistry(chatEvents, { streams: publishStore })
 * ```
 */
export function createEventRegistry(
  events: Record<string, EventDefinition<any>> = {},
  deps: BuiltinEventDeps,
): Map<string, EventDefinition<any>> {
  const registry = new Map<string, EventDefinition<any>>(Object.entries(createBuiltinEvents(deps)))
  for (const [name, definition] of Object.entries(events)) {
    if (RESERVED_EVENTS.has(name) || name.startsWith('rt:')) {
      throw new TypeError(`event name ${name} is reserved`)
    }
    registry.set(name, definition)
  }
  return registry
}
