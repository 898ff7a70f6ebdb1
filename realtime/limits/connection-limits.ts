import { TokenBucket } from './token-bucket.ts'
import {
  CONNECTION_BURST,
  CONNECTION_CAP_RETRY_AFTER_MS,
  CONNECTION_RATE_PER_SECOND,
  MAX_CONNECTIONS_PER_ADDRESS,
  MAX_CONNECTIONS_PER_USER,
  RATE_BUCKETS_SWEEP_THRESHOLD_COUNT,
} from '../constants.ts'

/**
 * How long a handshake's per-user reservation holds a slot before its socket
 * connects, in ms (Socket.IO's default connect timeout): one whose socket
 * never connects is forgotten after this.
 */
export const USER_RESERVATION_MS = 5_000

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
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly byAddress = new Map<string, number>()
  private readonly byUser = new Map<string, number>()
  /** Per user, when each handshake that passed the cap but has not connected yet did so. */
  private readonly reserved = new Map<string, number[]>()
  private readonly rate: number
  private readonly burst: number
  readonly perAddress: number
  readonly perUser: number

  constructor(options: ConnectionLimitOptions = {}) {
    this.rate = options.ratePerSecond ?? CONNECTION_RATE_PER_SECOND
    this.burst = options.burst ?? CONNECTION_BURST
    this.perAddress = options.perAddress ?? MAX_CONNECTIONS_PER_ADDRESS
    this.perUser = options.perUser ?? MAX_CONNECTIONS_PER_USER
  }

  /** Milliseconds to wait before `address` may open another connection; 0 to go ahead. */
  admitAddress(address: string, now: number): number {
    if ((this.byAddress.get(address) ?? 0) >= this.perAddress) return CONNECTION_CAP_RETRY_AFTER_MS
    let bucket = this.buckets.get(address)
    if (!bucket) {
      if (this.buckets.size > RATE_BUCKETS_SWEEP_THRESHOLD_COUNT) this.sweep(now)
      bucket = new TokenBucket(this.rate, this.burst, now)
      this.buckets.set(address, bucket)
    }
    return bucket.take(now)
  }

  /** Whether `sub` is under its cap of open connections. */
  userHasRoom(sub: string): boolean {
    return (this.byUser.get(sub) ?? 0) < this.perUser
  }

  /**
   * Take a slot of `sub`'s cap for a handshake that passed verification, until
   * its socket connects ({@link ConnectionLimits.open}) or
   * {@link USER_RESERVATION_MS} passes. Handshakes that finish verifying in
   * the same tick (a synchronous signature check) then cannot all pass.
   *
   * @returns false when the user is at the cap, counting reservations
   */
  reserveUser(sub: string, now: number = performance.now()): boolean {
    const held = this.reserved.get(sub)?.filter((at) => now - at < USER_RESERVATION_MS) ?? []
    if ((this.byUser.get(sub) ?? 0) + held.length >= this.perUser) {
      if (held.length === 0) this.reserved.delete(sub)
      else this.reserved.set(sub, held)
      return false
    }
    held.push(now)
    this.reserved.set(sub, held)
    return true
  }

  /** Count an accepted connection. Its {@link ConnectionLimits.close} takes the same address and user. */
  open(address: string, sub: string): void {
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1)
    this.byUser.set(sub, (this.byUser.get(sub) ?? 0) + 1)
    const held = this.reserved.get(sub)
    held?.shift()
    if (held?.length === 0) this.reserved.delete(sub)
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

  private sweep(now: number): void {
    for (const [address, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(address)
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}
