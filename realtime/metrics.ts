import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/** The realtime service's Prometheus metrics, on a registry of its own (one per server). */
export interface Metrics {
  registry: Registry
  connections: Gauge
  handshakes: Counter<'outcome'>
  /** Messages by event and outcome; see {@link MessageCounter}. */
  messages: MessageCounter
  jwksFetches: Counter<'outcome'>
  tokensVerified: Counter<'kid'>
  signatureChecks: Counter<'alg'>
  disconnects: Counter<'code'>
  socketioJwtCompat: Counter<'outcome'>
  /** Discovery and JWKS fetches of the issuers trusted besides the edge (docs/protocol.md §12). */
  issuerFetches: Counter<'issuer' | 'kind' | 'outcome'>
  /** Room grants checked at `rt:join`, by outcome: ok or the refusal code (docs/protocol.md §11). */
  roomGrants: Counter<'outcome'>
  /** `rt:join` refused by a room cap, by cap: `socket` or `user`. */
  roomJoinsRefused: Counter<'cap'>
  /** `POST /internal/revocations` by outcome: `ok` or the refusal's error. */
  revocationPushes: Counter<'outcome'>
  /** Connections closed for holding more queued output than the bound (issue 15 item 1). */
  slowConsumerDisconnects: Counter
  /** Cross-node publishes dropped from the Redis outage buffer (oldest first) when it was full. */
  clusterPublishesDropped: Counter
  /** Bytes of stream entries `rt:sync` replayed (docs/protocol.md §9). */
  syncReplayedBytes: Counter
  /** `rt:sync` refused because the user's replay budget was spent (docs/protocol.md §9, v1.2). */
  syncRefused: Counter
  close(): void
}

/**
 * Counts messages by event and outcome. prom-client hashes and validates the
 * labels on every `inc`, even through `labels()`, which costs more than the
 * count itself on a path that runs for every message; so the counts are
 * plain numbers, copied into the counter when it is scraped.
 */
export interface MessageCounter {
  inc(event: string, outcome: string): void
}

/**
 * Create the metrics: connections, handshakes by outcome (`ok` or the
 * refusal code), messages by event and outcome, JWKS fetches by outcome,
 * tokens verified per `kid` (so an operator sees when an old key is no
 * longer used), server-side disconnects by code, sockets that went through
 * the socketio-jwt compat mode by outcome, event-loop lag, and Node's defaults.
 */
export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'realtime_' })
  const lag = monitorEventLoopDelay({ resolution: 10 })
  lag.enable()
  new Gauge({
    name: 'realtime_event_loop_lag_p99_seconds',
    help: 'Event-loop delay, 99th percentile since the last scrape',
    registers: [registry],
    collect() {
      this.set(lag.percentile(99) / 1e9)
      lag.reset()
    },
  })
  const messageCounts = new Map<string, Map<string, number>>()
  new Counter({
    name: 'realtime_messages_total',
    help: 'Client messages by event and outcome: ok or the refusal code',
    labelNames: ['event', 'outcome'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [event, byOutcome] of messageCounts) {
        for (const [outcome, count] of byOutcome) this.inc({ event, outcome }, count)
      }
    },
  })
  return {
    registry,
    connections: new Gauge({
      name: 'realtime_connections',
      help: 'Open authenticated connections',
      registers: [registry],
    }),
    handshakes: new Counter({
      name: 'realtime_handshakes_total',
      help: 'Handshakes by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    messages: {
      inc(event, outcome) {
        let byOutcome = messageCounts.get(event)
        if (!byOutcome) messageCounts.set(event, (byOutcome = new Map()))
        byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1)
      },
    },
    jwksFetches: new Counter({
      name: 'realtime_jwks_fetches_total',
      help: 'JWKS fetches by outcome: ok, not_modified, error',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    signatureChecks: new Counter({
      name: 'realtime_signature_checks_total',
      help: 'Token signatures checked, by alg; a token the verifier cache has seen needs none',
      labelNames: ['alg'],
      registers: [registry],
    }),
    tokensVerified: new Counter({
      name: 'realtime_tokens_verified_total',
      help: 'Tokens that passed verification, by signing key',
      labelNames: ['kid'],
      registers: [registry],
    }),
    disconnects: new Counter({
      name: 'realtime_server_disconnects_total',
      help: 'Connections the server closed, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    socketioJwtCompat: new Counter({
      name: 'realtime_socketio_jwt_compat_total',
      help: 'Sockets admitted without a token in the socketio-jwt compat mode, by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    issuerFetches: new Counter({
      name: 'realtime_issuer_fetches_total',
      help: 'Discovery and JWKS fetches of the other trusted issuers, by issuer, kind and outcome',
      labelNames: ['issuer', 'kind', 'outcome'],
      registers: [registry],
    }),
    roomGrants: new Counter({
      name: 'realtime_room_grants_total',
      help: 'Room grants checked at rt:join, by outcome: ok or the refusal code',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    roomJoinsRefused: new Counter({
      name: 'realtime_room_joins_refused_total',
      help: 'rt:join refused because a room cap was reached, by cap: socket or user',
      labelNames: ['cap'],
      registers: [registry],
    }),
    revocationPushes: new Counter({
      name: 'realtime_revocation_pushes_total',
      help: 'Revocation pushes received, by outcome: ok, rate_limited, payload_too_large, invalid_request, unauthorized',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    slowConsumerDisconnects: new Counter({
      name: 'realtime_slow_consumer_disconnects_total',
      help: 'Connections closed because what was queued for them passed the per-socket bound',
      registers: [registry],
    }),
    syncReplayedBytes: new Counter({
      name: 'realtime_sync_replayed_bytes_total',
      help: 'Bytes of user-stream entries replayed by rt:sync',
      registers: [registry],
    }),
    syncRefused: new Counter({
      name: 'realtime_sync_refused_total',
      help: "rt:sync refused with rate_limited because the user's replay budget was spent",
      registers: [registry],
    }),
    clusterPublishesDropped: new Counter({
      name: 'realtime_cluster_publishes_dropped_total',
      help: 'Cross-node publishes dropped, oldest first, from the buffer held while Redis is away',
      registers: [registry],
    }),
    close() {
      lag.disable()
    },
  }
}

/**
 * A gauge whose value is read when Prometheus scrapes, for the sizes of what
 * clients and services make a node hold (streams, presence, rate state).
 *
 * @param registry - the service's registry
 * @param name - the metric's name
 * @param help - its help text
 * @param read - the current value
 * @example
 * ```ts
 * sizeGauge(registry, 'realtime_presence_rooms', 'Rooms with presence on this node', () => rooms.size)
 * ```
 */
export function sizeGauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read())
    },
  })
}
