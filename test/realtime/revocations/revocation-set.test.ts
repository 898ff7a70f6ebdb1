import { describe, expect, it } from 'vitest'
import { RevocationSet } from '../../../realtime/revocations/revocation-set.ts'

const token = (overrides: Partial<{ sub: string; sid: string; kid: string; iat: number }> = {}) => {
  const { sub, sid, kid, iat } = { sub: 'u-1', sid: 's-1', kid: 'k-1', iat: 1000, ...overrides }
  return { auth: { sub, sid, kid }, iat }
}

describe('RevocationSet', () => {
  it('revokes every token of a session until the event is forgotten at until', () => {
    const set = new RevocationSet()
    expect(set.add({ kind: 'session', id: 's-1', at: 1000, until: 1300 }, 1000)).toBe(true)
    expect(set.check(token(), 1000)).toBe('session')
    expect(set.check(token({ iat: 1200 }), 1299)).toBe('session')
    expect(set.check(token(), 1300)).toBeUndefined()
    expect(set.check(token({ sid: 's-2' }), 1000)).toBeUndefined()
  })

  it('revokes every token of a key by kid', () => {
    const set = new RevocationSet()
    set.add({ kind: 'key', id: 'k-1', at: 1000, until: 1300 }, 1000)
    expect(set.check(token(), 1100)).toBe('key')
    expect(set.check(token({ kid: 'k-2' }), 1100)).toBeUndefined()
  })

  it('revokes the tokens of a user issued at or before at, and none issued after', () => {
    const set = new RevocationSet()
    set.add({ kind: 'user', id: 'u-1', at: 1000, until: 1300 }, 1000)
    expect(set.check(token({ iat: 999 }), 1100)).toBe('user')
    expect(set.check(token({ iat: 1000 }), 1100)).toBe('user')
    expect(set.check(token({ iat: 1001 }), 1100)).toBeUndefined()
    expect(set.check(token({ sub: 'u-2', iat: 900 }), 1100)).toBeUndefined()
  })

  it('ignores an event already past its until', () => {
    const set = new RevocationSet()
    expect(set.add({ kind: 'session', id: 's-1', at: 500, until: 1000 }, 1000)).toBe(false)
    expect(set.size).toBe(0)
    expect(set.check(token(), 999)).toBeUndefined()
  })

  it('keeps the widest of repeated events: a shorter until never shortens one in force', () => {
    const set = new RevocationSet()
    set.add({ kind: 'session', id: 's-1', at: 1000, until: 1600 }, 1000)
    set.add({ kind: 'session', id: 's-1', at: 1100, until: 1300 }, 1100)
    expect(set.check(token(), 1500)).toBe('session')
    expect(set.size).toBe(1)
  })

  it('keeps the latest at and the latest until of repeated user events', () => {
    const set = new RevocationSet()
    set.add({ kind: 'user', id: 'u-1', at: 1000, until: 1600 }, 1000)
    set.add({ kind: 'user', id: 'u-1', at: 1200, until: 1500 }, 1200)
    set.add({ kind: 'user', id: 'u-1', at: 900, until: 1100 }, 1000)
    expect(set.check(token({ iat: 1200 }), 1250)).toBe('user')
    expect(set.check(token({ iat: 1000 }), 1550)).toBe('user')
    expect(set.check(token({ iat: 1201 }), 1250)).toBeUndefined()
  })

  it('prunes the events past their until, and only those', () => {
    const set = new RevocationSet()
    set.add({ kind: 'session', id: 's-1', at: 1000, until: 1100 }, 1000)
    set.add({ kind: 'key', id: 'k-1', at: 1000, until: 1200 }, 1000)
    set.add({ kind: 'user', id: 'u-1', at: 1000, until: 1100 }, 1000)
    set.add({ kind: 'user', id: 'u-2', at: 1000, until: 1300 }, 1000)
    expect(set.size).toBe(4)
    set.prune(1100)
    expect(set.size).toBe(2)
    expect(set.check(token({ sid: 's-x' }), 1150)).toBe('key')
    expect(set.check(token({ sub: 'u-2', kid: 'k-x' }), 1150)).toBe('user')
  })
})

describe('RevocationSet client events (docs/protocol.md §6, v1.1)', () => {
  it('revokes the service tokens of a client, and of a revoked key, until the event is forgotten', () => {
    const set = new RevocationSet()
    set.add({ kind: 'client', id: 'svc-1', at: 1000, until: 1900 }, 1000)
    set.add({ kind: 'key', id: 'k-9', at: 1000, until: 1300 }, 1000)
    expect(set.checkClient({ clientId: 'svc-1', kid: 'k-1' }, 1100)).toBe('client')
    expect(set.checkClient({ clientId: 'svc-2', kid: 'k-9' }, 1100)).toBe('key')
    expect(set.checkClient({ clientId: 'svc-2', kid: 'k-1' }, 1100)).toBeUndefined()
    // A client id never revokes a user's token, whatever its sub.
    expect(set.check(token({ sub: 'svc-1', sid: 'svc-1', iat: 900 }), 1100)).toBeUndefined()
    expect(set.size).toBe(2)
    set.prune(1900)
    expect(set.checkClient({ clientId: 'svc-1', kid: 'k-1' }, 1900)).toBeUndefined()
    expect(set.size).toBe(0)
  })
})
