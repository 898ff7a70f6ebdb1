import { grantStale } from './room-grants.ts'

/** One room to join again, with the grant it was joined with, if any. */
export interface Rejoin {
  room: string
  grant?: string
}

/**
 * The rooms a client has joined and the grant each took (docs/protocol.md
 * §11), so that a reconnect joins them again in the order they were joined.
 * A grant near its `exp` is replaced before the re-join; a room whose grant
 * cannot be had is dropped rather than joined without one.
 */
export class JoinedRooms {
  private readonly rooms = new Map<string, string | undefined>()

  /** Record a join (a later join of the same room replaces its grant). */
  add(room: string, grant?: string): void {
    this.rooms.set(room, grant)
  }

  /** Forget a room. */
  delete(room: string): void {
    this.rooms.delete(room)
  }

  /** What to send as `rt:join` data after a reconnect, in join order. */
  rejoins(): Rejoin[] {
    return Array.from(this.rooms, ([room, grant]) =>
      grant === undefined ? { room } : { room, grant },
    )
  }

  /** Rooms whose grant should be fetched afresh at `nowMs` (see {@link grantStale}). */
  stale(nowMs: number): string[] {
    const stale: string[] = []
    for (const [room, grant] of this.rooms)
      if (grant !== undefined && grantStale(grant, nowMs)) stale.push(room)
    return stale
  }

  /**
   * Fetch new grants for `rooms`, all at once; a room whose fetch fails is
   * dropped. Never rejects.
   */
  async refresh(rooms: string[], fetchGrant: (room: string) => Promise<string>): Promise<void> {
    await Promise.all(
      rooms.map(async (room) => {
        try {
          const grant = await fetchGrant(room)
          if (this.rooms.has(room)) this.rooms.set(room, grant)
        } catch {
          this.rooms.delete(room)
        }
      }),
    )
  }
}
