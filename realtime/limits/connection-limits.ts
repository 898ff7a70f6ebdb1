import { AddressRate } from './address-rate.ts'
import {
  CONNECTION_BURST,
  CONNECTION_CAP_RETRY_AFTER_MS,
  CONNECTION_RATE_PER_SECOND,
  MAX_CONNECTIONS_PER_ADDRESS,
  MAX_CONNECTIONS_PER_USER,
  RESERVATION_SWEEP_THRESHOLD_COUNT,
} from '../constants.ts'

/**
 * A handshake holding a per-user reservation: a Socket.IO socket satisfies
 * it. Its connection's state tells when its client has gone.
 */
export interface PendingHandshake {
  id: string
  conn: Connection
}

/** The part of an Engine.IO connection a reservation keeps. */
type Connection = { readonly readyState: string }

/** Options of {@link ConnectionLimits}. */
export interface ConnectionLimitOptions {
  /** New connections per second per address. @default 10 */
  ratePerSecond?: number
  /** Burst of new connections per address. @default 30 */
  burst?: number
  /** Open connections per address. @default 200 */
  perAddress?: number
  /** Open connections per user (`sub`). @default 20 */
  perUser?: number
}

/**
 * Connection admission: a rate per address (before any token work) and caps
 * on open connections per address and per user. State is pruned as
 * connections close and buckets refill, so idle addresses cost nothing.
 */
export class ConnectionLimits {
  private readonly rate: AddressRate
  private readonly byAddress = new Map<string, number>()
  private readonly byUser = new Map<string, number>()
  /** Per user, the handshakes (by socket id) that passed the cap but have not connected yet. */
  private readonly reserved = new Map<string, Map<string, Connection>>()
  private sweepAt = RESERVATION_SWEEP_THRESHOLD_COUNT
  readonly perAddress: number
  readonly perUser: number

  constructor(options: ConnectionLimitOptions = {}) {
    this.rate = new AddressRate(
      options.ratePerSecond ?? CONNECTION_RATE_PER_SECOND,
      options.burst ?? CONNECTION_BURST,
    )
    this.perAddress = options.perAddress ?? MAX_CONNECTIONS_PER_ADDRESS
    this.perUser = options.perUser ?? MAX_CONNECTIONS_PER_USER
  }

  /** Milliseconds to wait before `address` may open another connection; 0 to go ahead. */
  admitAddress(address: string, now: number): number {
    if ((this.byAddress.get(address) ?? 0) >= this.perAddress) return CONNECTION_CAP_RETRY_AFTER_MS
    return this.rate.take(address, now)
  }

  /**
   * Take a slot of `sub`'s cap for a handshake that passed verification,
   * until its socket connects ({@link ConnectionLimits.open}) or is refused
   * ({@link ConnectionLimits.releaseUser}). However many handshakes of one
   * user race through the application's middleware, at most the cap connect.
   * A handshake whose client went before connecting (Socket.IO then drops it
   * without any event, also when its connect timeout ends a hung middleware)
   * is given up here, by its connection's state, the next time the user's
   * slots are counted.
   *
   * @param sub - the verified user
   * @param handshake - the socket: its id makes a release idempotent, its connection tells when it has gone
   * @returns false when the user is at the cap, counting reservations
   */
  reserveUser(sub: string, handshake: PendingHandshake): boolean {
    if (this.reserved.size >= this.sweepAt) {
      for (const user of this.reserved.keys()) this.prune(user)
      // Amortized: the next full sweep waits until the users held have doubled.
      this.sweepAt = Math.max(RESERVATION_SWEEP_THRESHOLD_COUNT, 2 * this.reserved.size)
    } else this.prune(sub)
    const held = this.reserved.get(sub)
    if ((this.byUser.get(sub) ?? 0) + (held?.size ?? 0) >= this.perUser) return false
    if (held) held.set(handshake.id, handshake.conn)
    else this.reserved.set(sub, new Map([[handshake.id, handshake.conn]]))
    return true
  }

  /**
   * Give back the reservation of socket `id`, if it still holds one: a later
   * middleware refused it, or its client went before connecting. Calling it
   * again, or after the socket connected, does nothing.
   */
  releaseUser(sub: string, id: string): void {
    const held = this.reserved.get(sub)
    if (!held?.delete(id)) return
    if (held.size === 0) this.reserved.delete(sub)
  }

  /**
   * Count an accepted connection, turning its reservation into an open slot.
   * Its {@link ConnectionLimits.close} takes the same address and user.
   */
  open(address: string, sub: string, id: string): void {
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1)
    this.byUser.set(sub, (this.byUser.get(sub) ?? 0) + 1)
    this.releaseUser(sub, id)
  }

  /** Forget `sub`'s reservations whose client has gone, and the user once none is left. */
  private prune(sub: string): void {
    const held = this.reserved.get(sub)
    if (!held) return
    for (const [id, conn] of held) if (gone(conn)) held.delete(id)
    if (held.size === 0) this.reserved.delete(sub)
  }

  /**
   * Release a connection counted by {@link ConnectionLimits.open}, once per
   * open. (The caller keeps no closure per connection: at tens of thousands
   * of sockets each one shows.)
   */
  close(address: string, sub: string): void {
    decrement(this.byAddress, address)
    decrement(this.byUser, sub)
  }
}

/** Whether a pending handshake's connection has closed (or is closing). */
function gone(conn: Connection): boolean {
  const state = conn.readyState
  return state === 'closed' || state === 'closing'
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}
