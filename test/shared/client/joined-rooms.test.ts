/** The rooms a client joins again after a reconnect (shared/client/joined-rooms.ts). */
import { SignJWT } from 'jose'
import { describe, expect, it } from 'vitest'
import { JoinedRooms } from '../../../shared/client/joined-rooms.ts'

const key = new TextEncoder().encode('a test key that is only read, never verified here')
const grantExpiring = (exp: number) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime(exp).sign(key)

describe('JoinedRooms', () => {
  it('re-joins in join order, each with the grant it was last joined with', () => {
    const rooms = new JoinedRooms()
    rooms.add('lobby')
    rooms.add('doc:1', 'g1')
    rooms.add('doc:2', 'g2')
    rooms.add('doc:1', 'g1b')
    rooms.delete('doc:2')
    expect(rooms.rejoins()).toEqual([{ room: 'lobby' }, { room: 'doc:1', grant: 'g1b' }])
  })

  it('lists as stale the grants within the margin of exp and the unreadable ones, not the rooms without', async () => {
    const now = 1_800_000_000
    const rooms = new JoinedRooms()
    rooms.add('lobby')
    rooms.add('fresh', await grantExpiring(now + 60))
    rooms.add('near', await grantExpiring(now + 3))
    rooms.add('garbled', 'not-a-jws')
    expect(rooms.stale(now * 1000)).toEqual(['near', 'garbled'])
  })

  it('refresh replaces grants, drops a room whose grant cannot be had, and does not bring back a room left meanwhile', async () => {
    const rooms = new JoinedRooms()
    rooms.add('a', 'old-a')
    rooms.add('b', 'old-b')
    rooms.add('c', 'old-c')
    let release!: () => void
    const slow = new Promise<void>((r) => (release = r))
    const refreshed = rooms.refresh(['a', 'b', 'c'], async (room) => {
      if (room === 'b') throw new Error('no grant')
      if (room === 'c') await slow
      return `new-${room}`
    })
    rooms.delete('c')
    release()
    await refreshed
    expect(rooms.rejoins()).toEqual([{ room: 'a', grant: 'new-a' }])
  })
})
