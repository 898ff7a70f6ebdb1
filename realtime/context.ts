import type { KeySet } from '../shared/jwks/key-set.ts'
import type { TokenVerifier } from './auth/token-verifier.ts'
import type { RedisCluster } from './cluster/redis-cluster.ts'
import type { ConnectionLimits } from './limits/connection-limits.ts'
import type { Logger } from './log.ts'
import type { Metrics } from './metrics.ts'
import type { FeedPoller } from './revocations/feed-poller.ts'
import type { RevocationSet } from './revocations/revocation-set.ts'
import type { Sessions } from './session/sessions.ts'
import type { RealtimeIo } from './types.ts'

/**
 * What the parts of one realtime server share, built once by
 * `createRealtimeServer` and handed to each part (admission, revocations,
 * readiness, shutdown, ...). A new part takes this object rather than a
 * longer parameter list; it is internal and never exported from the package.
 */
export interface RealtimeContext {
  readonly io: RealtimeIo
  readonly now: () => number
  readonly logger: Logger
  readonly metrics: Metrics
  readonly keySet: KeySet
  readonly verifier: TokenVerifier
  readonly revocations: RevocationSet
  readonly limits: ConnectionLimits
  readonly sessions: Sessions
  /** Present when clustered through Redis. */
  readonly cluster: RedisCluster | undefined
  /** Present when the edge's revocation feed is pulled. */
  readonly feed: FeedPoller | undefined
  /** Use `X-Forwarded-For` for client addresses. */
  readonly trustProxy: boolean
  /** Mutable lifecycle state: set by shutdown, read by admission and readiness. */
  readonly state: { draining: boolean }
}
