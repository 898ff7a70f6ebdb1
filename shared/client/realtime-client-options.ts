import type { ManagerOptions, SocketOptions } from 'socket.io-client'
import type { ClientErrorCode } from './client-error.ts'
import type { EdgeAuth } from './edge-auth.ts'
import type { SyncOutcome } from './notifications.ts'
import type { GrantProvider } from './room-grants.ts'

/** Where the connection is. */
export type ConnectionState =
  | 'idle'
  | 'connecting'
  | 'connected'
  | 'refreshing'
  | 'reconnecting'
  | 'auth_required'
  | 'failed'
  | 'closed'

/** Options of {@link RealtimeClient}. */
export interface RealtimeClientOptions {
  /** The realtime service's base URL. */
  url: string
  /** The session the client connects with. */
  auth: EdgeAuth
  /** Called when only a new login can help (revoked, invalid, refresh failed). Redirect to your login page here. */
  onAuthRequired?: (code: ClientErrorCode) => void
  /** Called on every state change. */
  onStateChange?: (state: ConnectionState) => void
  /**
   * Fetches a room grant from your application (docs/room-grants.md): called
   * when a `join` without a grant is refused `forbidden`, and before a
   * re-join after a reconnect when the room's grant has expired.
   */
  grantProvider?: GrantProvider
  /** How long an emit may wait for its ack, queue time included, ms. @default 10000 */
  ackTimeoutMs?: number
  /** Emits held while (re)connecting or refreshing. @default 100 */
  queueLimit?: number
  /** Passed to socket.io-client (transports, path, …). */
  socketOptions?: Partial<ManagerOptions & SocketOptions>
  /** Random source for backoff jitter. @default Math.random */
  random?: () => number
  /**
   * Server-published events (docs/protocol.md §8, §9): `since`, an offset
   * stored from an earlier run; `onSync`, called after each (re)connect's
   * `rt:sync` (on `gap: true`, refetch from your application).
   */
  notifications?: {
    since?: string | null
    maxSeen?: number
    onSync?: (outcome: SyncOutcome) => void
  }
}

/** Options {@link RealtimeClient} fills in when they are left out. */
export type Defaulted = 'ackTimeoutMs' | 'queueLimit' | 'random'

/** The defaults of {@link RealtimeClientOptions}. */
export const CLIENT_DEFAULTS: Required<Pick<RealtimeClientOptions, Defaulted>> = {
  ackTimeoutMs: 10_000,
  queueLimit: 100,
  random: Math.random,
}
