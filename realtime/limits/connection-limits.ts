import { AddressRate } from './address-rate.ts'

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
  readonly perAddress: number
  readonly perUser: number

  constructor(options: ConnectionLimitOptions = {}) {
    this.rate = new AddressRate(options.ratePerSecond ?? 10, options.burst ?? 30)
    this.perAddress = options.perAddress ?? 200
    this.perUser = options.perUser ?? 20
  }

  /** Milliseconds to wait before `address` may open another connection; 0 to go ahead. */
  admitAddress(address: string, now: number): number {
    if ((this.byAddress.get(address) ?? 0) >= this.perAddress) return 1000
    return this.rate.take(address, now)
  }

  /** Whether `sub` is under its cap of open connections. */
  userHasRoom(sub: string): boolean {
    return (this.byUser.get(sub) ?? 0) < this.perUser
  }

  /** Count an accepted connection. Its {@link ConnectionLimits.close} takes the same address and user. */
  open(address: string, sub: string): void {
    this.byAddress.set(address, (this.byAddress.get(address) ?? 0) + 1)
    this.byUser.set(sub, (this.byUser.get(sub) ?? 0) + 1)
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

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1
  if (n <= 0) map.delete(key)
  else map.set(key, n)
}
