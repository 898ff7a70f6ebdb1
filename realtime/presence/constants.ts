/**
 * Presence's numbers (docs/protocol.md §10), each with its unit. The
 * environment overrides the grace and batch periods (`PRESENCE_GRACE_MS`,
 * `PRESENCE_BATCH_MS`).
 */

/** A user's last socket gone, how long before they leave the room's presence, ms (§10: 5000). */
export const PRESENCE_GRACE_MS = 5000
/** Shortest interval between two change batches of one room, ms (§10: at most one per second). */
export const PRESENCE_BATCH_MS = 1000
/** How often a node looks for batches that are due, ms. */
export const PRESENCE_FLUSH_TICK_MS = 250
/** Members per page of `rt:presence` (§10) and the most the server API lists at once (§8). */
export const PRESENCE_PAGE_SIZE = 1000
/** Most users one room's presence lists; later ones join the room unlisted until a place frees. */
export const PRESENCE_MAX_MEMBERS_PER_ROOM = 10_000
/** Most rooms with presence on one node; a socket joining a further room is in it unlisted. */
export const PRESENCE_MAX_ROOMS = 10_000
/** Most changes (joined plus left) one `rt:presence` message carries; a larger batch goes out as several in the same flush. */
export const PRESENCE_MAX_BATCH_CHANGES = 1000
/** Rooms one flush takes from Redis per round trip. */
export const PRESENCE_FLUSH_ROOMS_PER_CALL = 100
/** How often a node refreshes its heartbeat and looks for dead nodes, ms. */
export const PRESENCE_HEARTBEAT_MS = 3000
/**
 * A node whose heartbeat is older than this is dead and its members are
 * swept, ms. With the heartbeat and a batch this keeps a dead node's members
 * within §10's "grace period plus 15 s": 10 + 3 + 1.25 s.
 */
export const PRESENCE_NODE_TTL_MS = 10_000
/** Entries one sweep call removes from a dead node. */
export const PRESENCE_SWEEP_CHUNK = 500
/** How long a node remembers removals to replay them after a Redis restart, ms. */
export const PRESENCE_REPLAY_WINDOW_MS = 10_000
/** Longest `cursor` accepted, characters. */
export const PRESENCE_CURSOR_MAX_CHARS = 1024
/**
 * The pseudo-room that holds each connected user once, for
 * `GET /api/v1/presence/users/:sub`. Its name is outside the room alphabet,
 * so no client room can collide with it; it has no batches and no caps
 * (the connection limits bound it).
 */
export const ONLINE_ROOM = '*online'
