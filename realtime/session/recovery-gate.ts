import { isServerRoom, roomAllowed } from '../../shared/events.ts'
import type { SocketData } from '../identity.ts'
import type { RealtimeNamespace, RealtimeSocket } from '../types.ts'
import { MAX_PENDING_RECOVERIES_COUNT } from '../constants.ts'

type Session = {
  sid: string
  pid: string
  rooms: string[]
  data: unknown
  missedPackets: unknown[][]
}

/**
 * Re-authentication for Socket.IO's connection state recovery.
 *
 * Socket.IO restores a recovered session's rooms and `data` and writes its
 * missed packets in the Socket constructor, before any middleware runs, so a
 * revoked user would get the messages they missed. The gate hands Socket.IO
 * an empty session instead and keeps the real one aside. Only after the
 * handshake chain has verified the new token and its revocation state does
 * {@link RecoveryGate.complete} restore it, and then only if the new token is
 * for the same `sub` and `sid`: rooms the new `rooms` claim still allows are
 * re-joined, and the missed packets are delivered only if every room of the
 * old session is still allowed (a missed packet does not say which room it
 * was for, so partial delivery cannot be done safely).
 */
export class RecoveryGate {
  private readonly pending = new Map<string, Session>()

  /** Intercept session restoration on a namespace's adapter. */
  install(nsp: RealtimeNamespace): void {
    const adapter = nsp.adapter as unknown as {
      restoreSession(pid: string, offset: string): Promise<Session | null> | Session | null
    }
    const restore = adapter.restoreSession.bind(adapter)
    adapter.restoreSession = async (pid, offset) => {
      const session = await restore(pid, offset)
      if (!session) return session
      this.pending.delete(session.sid)
      this.pending.set(session.sid, session)
      if (this.pending.size > MAX_PENDING_RECOVERIES_COUNT)
        this.pending.delete(this.pending.keys().next().value!)
      return { ...session, rooms: [], data: {}, missedPackets: [] }
    }
  }

  /**
   * Restore what may be restored to a socket that passed the handshake chain.
   *
   * @returns how many missed packets were delivered
   */
  complete(socket: RealtimeSocket): number {
    if (!socket.recovered) return 0
    const session = this.pending.get(socket.id)
    this.pending.delete(socket.id)
    if (!session) return 0
    const before = (session.data as Partial<SocketData> | undefined)?.auth
    const auth = socket.data.auth
    if (!before || before.sub !== auth.sub || before.sid !== auth.sid) return 0
    const clientRooms = session.rooms.filter((r) => r !== session.sid && !isServerRoom(r))
    const allowed = clientRooms.filter((r) => roomAllowed(auth.rooms, r))
    void socket.join(allowed)
    if (allowed.length !== clientRooms.length) return 0
    // Missed packets are replayed as Socket.IO stored them: already-emitted
    // events of the typed map, whose name and arguments it no longer knows.
    const replay = socket.emit as (event: string, ...args: unknown[]) => boolean
    for (const [event, ...args] of session.missedPackets)
      replay.call(socket, event as string, ...args)
    return session.missedPackets.length
  }
}
