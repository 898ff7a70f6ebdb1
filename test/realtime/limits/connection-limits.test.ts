import { describe, expect, it } from 'vitest'
import {
  ConnectionLimits,
  USER_RESERVATION_MS,
} from '../../../realtime/limits/connection-limits.ts'

describe('ConnectionLimits', () => {
  it('admits a burst of new connections per address, then says how long to wait', () => {
    const limits = new ConnectionLimits({ ratePerSecond: 2, burst: 2 })
    expect([limits.admitAddress('10.0.0.1', 0), limits.admitAddress('10.0.0.1', 0)]).toEqual([0, 0])
    expect(limits.admitAddress('10.0.0.1', 0)).toBe(500)
    expect(limits.admitAddress('10.0.0.2', 0)).toBe(0)
    expect(limits.admitAddress('10.0.0.1', 500)).toBe(0)
  })

  it('refuses an address at its cap of open connections until one is released', () => {
    const limits = new ConnectionLimits({ perAddress: 2, ratePerSecond: 1000, burst: 1000 })
    limits.open('10.0.0.1', 'u-1')
    limits.open('10.0.0.1', 'u-2')
    expect(limits.admitAddress('10.0.0.1', 0)).toBeGreaterThan(0)
    expect(limits.admitAddress('10.0.0.2', 0)).toBe(0)
    limits.close('10.0.0.1', 'u-1')
    expect(limits.admitAddress('10.0.0.1', 0)).toBe(0)
  })

  it('caps open connections per user across addresses', () => {
    const limits = new ConnectionLimits({ perUser: 2 })
    limits.open('10.0.0.1', 'u-1')
    expect(limits.userHasRoom('u-1')).toBe(true)
    limits.open('10.0.0.2', 'u-1')
    expect(limits.userHasRoom('u-1')).toBe(false)
    expect(limits.userHasRoom('u-2')).toBe(true)
    limits.close('10.0.0.2', 'u-1')
    expect(limits.userHasRoom('u-1')).toBe(true)
  })

  it('counts each open until its close, and keeps no state for a closed address or user', () => {
    const limits = new ConnectionLimits({
      perUser: 1,
      perAddress: 1,
      ratePerSecond: 1000,
      burst: 1000,
    })
    limits.open('10.0.0.1', 'u-1')
    limits.open('10.0.0.2', 'u-1')
    limits.close('10.0.0.1', 'u-1')
    expect(limits.userHasRoom('u-1')).toBe(false)
    expect(limits.admitAddress('10.0.0.1', 0)).toBe(0)
    expect(limits.admitAddress('10.0.0.2', 0)).toBeGreaterThan(0)
    limits.close('10.0.0.2', 'u-1')
    expect(limits.userHasRoom('u-1')).toBe(true)
    expect(limits.admitAddress('10.0.0.2', 0)).toBe(0)
    // A close more than the opens does not go below zero: the cap still holds after it.
    limits.close('10.0.0.2', 'u-1')
    limits.open('10.0.0.2', 'u-1')
    expect(limits.userHasRoom('u-1')).toBe(false)
  })

  it('reserves a user slot per verified handshake until it opens, so handshakes verified in one tick cannot pass the cap together', () => {
    const limits = new ConnectionLimits({ perUser: 2 })
    expect(limits.reserveUser('u', 0)).toBe(true)
    expect(limits.reserveUser('u', 0)).toBe(true)
    expect(limits.reserveUser('u', 0)).toBe(false)
    limits.open('a', 'u') // consumes a reservation: still two taken
    expect(limits.reserveUser('u', 1)).toBe(false)
    limits.close('a', 'u')
    expect(limits.reserveUser('u', 1)).toBe(true)
  })

  it('forgets a reservation whose socket never connects after USER_RESERVATION_MS', () => {
    const limits = new ConnectionLimits({ perUser: 1 })
    expect(limits.reserveUser('u', 0)).toBe(true)
    expect(limits.reserveUser('u', USER_RESERVATION_MS - 1)).toBe(false)
    expect(limits.reserveUser('u', USER_RESERVATION_MS)).toBe(true)
  })
})
