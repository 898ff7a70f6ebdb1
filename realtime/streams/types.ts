/** Where a publish goes (docs/protocol.md §8): one user, one session, or one room. */
export type PublishTarget = { user: string } | { session: string } | { room: string }

/** What a publish delivers: the Socket.IO event and its one argument's parts. */
export interface Publication {
  /** Idempotency id, also the delivery's `id`. */
  id: string
  /** The publishing client's `client_id`, the delivery's `from` (docs/protocol.md §8, v1.2). */
  from: string
  /** ms timestamp taken when the publish was accepted. */
  ts: number
  event: string
  data: unknown
}

/** A publication kept in a user's stream (docs/protocol.md §9), with its offset. */
export interface StreamEntry extends Publication {
  /** Opaque to clients; orders the stream. */
  offset: string
}

/** The answer of a publish (docs/protocol.md §8): 202 `{ id, offset? }`. */
export interface PublishAnswer {
  id: string
  offset?: string
}

/** What `rt:sync` replays and acks (docs/protocol.md §9). */
export interface SyncResult {
  /** Entries after `since`, oldest first. */
  entries: StreamEntry[]
  /** The stream's newest offset, or null when it has none. */
  last: string | null
  /** Entries after `since` were dropped by retention, or `since` was never an offset of this stream. */
  gap: boolean
}

/**
 * Where publishes are recorded: the idempotency of publish ids per service
 * client, and the per-user streams. One node alone keeps both in bounded
 * memory; a cluster keeps them in Redis, so a repeat on another node and a
 * sync on another node see the same state.
 */
export interface PublishStore {
  /**
   * Record a publish once per `(clientId, id)` for the idempotency window:
   * the first call appends a user target's publication to that user's
   * stream; a repeat changes nothing and gets the first call's answer.
   */
  accept(
    clientId: string,
    to: PublishTarget,
    publication: Publication,
  ): Promise<{ first: boolean; answer: PublishAnswer }>
  /** The entries of `sub`'s stream after `since` (null: none, just `last`; `"0"`: every entry held). */
  read(sub: string, since: string | null): Promise<SyncResult>
}
