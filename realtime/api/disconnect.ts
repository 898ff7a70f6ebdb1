import { randomUUID } from 'node:crypto'
import * as v from 'valibot'
import { SubjectSchema } from '../../shared/claims.ts'
import { CLUSTER_DISCONNECT_EVENT } from '../constants.ts'
import type { Logger } from '../log.ts'
import type { Sessions } from '../session/sessions.ts'
import type { RealtimeIo } from '../types.ts'
import { parseDisconnect } from './schemas.ts'

/** A disconnect as it travels between nodes. */
const ClusterDisconnect = v.strictObject({
  kind: v.picklist(['user', 'session']),
  id: SubjectSchema,
  retryable: v.boolean(),
})

/** Options of {@link createDisconnect}. */
export interface DisconnectOptions {
  io: Pick<RealtimeIo, 'on' | 'serverSideEmit'>
  sessions: Pick<Sessions, 'disconnect'>
  /** Whether other nodes exist to tell (Redis adapter); a lone node's adapter cannot serverSideEmit. */
  clustered: boolean
  logger: Logger
}

/**
 * `POST /api/v1/disconnect` (docs/protocol.md §8): every socket of the user
 * or session, on every node, gets `rt:error` `disconnected` with
 * `retryable`, then is disconnected. Like a revocation it is applied here
 * at once and fanned out to the other nodes, but nothing is recorded: the
 * client may connect again with a valid token.
 *
 * @returns a function from the parsed JSON body to the 202 answer
 */
export function createDisconnect(options: DisconnectOptions) {
  const { io, sessions, clustered, logger } = options
  if (clustered) {
    io.on(CLUSTER_DISCONNECT_EVENT, (raw: unknown) => {
      const parsed = v.safeParse(ClusterDisconnect, raw)
      if (!parsed.success) return logger('warn', 'malformed cluster disconnect ignored')
      const { kind, id, retryable } = parsed.output
      sessions.disconnect({ kind, id }, retryable)
    })
  }
  return function disconnect(body: unknown): { id: string } {
    const request = parseDisconnect(body)
    const target =
      'user' in request
        ? { kind: 'user' as const, id: request.user }
        : { kind: 'session' as const, id: request.session }
    const retryable = request.retryable ?? false
    const closed = sessions.disconnect(target, retryable)
    if (clustered) io.serverSideEmit(CLUSTER_DISCONNECT_EVENT, { ...target, retryable })
    const id = randomUUID()
    logger('debug', 'server API disconnect', {
      id,
      kind: target.kind,
      closedHere: closed,
      retryable,
    })
    return { id }
  }
}
