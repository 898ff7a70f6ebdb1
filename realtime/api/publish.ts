import { randomUUID } from 'node:crypto'
import type { RealtimeIo } from '../types.ts'
import { AppError, isAppError } from '../../shared/errors.ts'
import type { PublishedEvent } from '../../shared/events.ts'
import type { PublishAnswer, PublishStore, PublishTarget } from '../streams/types.ts'
import type { ServiceIdentity } from './service-auth.ts'
import { parsePublish } from './schemas.ts'

/** Options of {@link createPublish}. */
export interface PublishOptions {
  /** Where deliveries go out: through the adapter, so every node delivers to its own sockets. */
  io: Pick<RealtimeIo, 'to'>
  store: PublishStore
  /** ms clock, for `ts`. */
  now: () => number
  /** Called when a publish was a repeat of an earlier id (answered, not delivered). */
  onRepeat?: () => void
}

/** The one argument of a published event (docs/protocol.md §8). */
export type Delivery = PublishedEvent

/**
 * Emit a published event to a socket or a room. Its name is the service's
 * own (checked by `PublishEventSchema`), outside the typed event maps, so
 * the typing is set aside here, and only here.
 *
 * @param target - `io.to(room)` or a socket
 */
export function emitPublished(
  target: { emit: (...args: never[]) => unknown },
  event: string,
  delivery: Delivery,
): void {
  ;(target.emit as (event: string, delivery: Delivery) => unknown).call(target, event, delivery)
}

/** The Socket.IO room of a target: the server-managed `user:<sub>` / `session:<sid>`, or the room. */
export function roomOf(to: PublishTarget): string {
  return 'user' in to ? `user:${to.user}` : 'session' in to ? `session:${to.session}` : to.room
}

/**
 * `POST /api/v1/publish` (docs/protocol.md §8, §9): check the body, record
 * it once per (client, id) (a user target is appended to the user's
 * stream), then deliver the event `event` with the one argument
 * `{ id, from, ts, data, offset? }` to the target's sockets on every node,
 * `from` being the caller's client_id (ids are unique per client only). A
 * repeated id answers as the first call did and delivers nothing.
 *
 * @returns a function from the caller and the parsed JSON body to the 202 answer
 */
export function createPublish(options: PublishOptions) {
  return async function publish(caller: ServiceIdentity, body: unknown): Promise<PublishAnswer> {
    const { request } = parsePublish(body)
    const publication = {
      id: request.id ?? randomUUID(),
      from: caller.clientId,
      ts: options.now(),
      event: request.event,
      data: request.data,
    }
    let accepted: Awaited<ReturnType<PublishStore['accept']>>
    try {
      accepted = await options.store.accept(caller.clientId, request.to, publication)
    } catch (err) {
      if (isAppError(err)) throw err
      throw new AppError('unavailable', 'publish store unreachable', { cause: err })
    }
    if (!accepted.first) {
      options.onRepeat?.()
      return accepted.answer
    }
    const { offset } = accepted.answer
    const delivery = {
      id: publication.id,
      from: publication.from,
      ts: publication.ts,
      data: publication.data,
      ...(offset !== undefined && { offset }),
    }
    emitPublished(options.io.to(roomOf(request.to)), publication.event, delivery)
    return accepted.answer
  }
}
