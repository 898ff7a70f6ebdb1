import { describe, expect, it } from 'vitest'
import type { RevocableIdentity } from '../../../realtime/identity.ts'
import {
  assertNotRevoked,
  edgeIssued,
  eventCovers,
  revokedBy,
} from '../../../realtime/revocations/check.ts'
import { unhandledKind } from '../../../realtime/revocations/kinds.ts'
import { RevocationSet } from '../../../realtime/revocations/revocation-set.ts'
import type { Revocation } from '../../../realtime/types.ts'

/** A connection's `socket.data`, as the handshake writes it. */
const identity = (
  overrides: Partial<{ sub: string; sid: string; kid: string; iat: number; issuer: string }> = {},
): RevocableIdentity => {
  const { sub, sid, kid, iat, issuer } = {
    sub: 'u-1',
    sid: 's-1',
    kid: 'k-1',
    iat: 1000,
    ...overrides,
  }
  return { auth: { sub, sid, kid }, iat, ...(issuer !== undefined && { issuer }) }
}

const setWith = (...events: Revocation[]) => {
  const set = new RevocationSet()
  for (const event of events) set.add(event, 1000)
  return set
}

describe('the revocation check', () => {
  it.each([
    ['session', { kind: 'session', id: 's-1', at: 1000, until: 2000 }, identity()],
    ['key', { kind: 'key', id: 'k-1', at: 1000, until: 2000 }, identity()],
    ['user', { kind: 'user', id: 'u-1', at: 1000, until: 2000 }, identity({ iat: 1000 })],
  ] as const)('a %s event in force revokes the edge connection it names', (kind, event, who) => {
    const set = setWith(event)
    expect(revokedBy(set, who, 1500)).toBe(kind)
    expect(() => assertNotRevoked(set, who, 1500)).toThrow(
      expect.objectContaining({ code: 'token_revoked' }),
    )
    expect(eventCovers(event, who)).toBe(true)
  })

  it('a user event spares a token issued after it (a new login)', () => {
    const event = { kind: 'user', id: 'u-1', at: 1000, until: 2000 } as const
    expect(revokedBy(setWith(event), identity({ iat: 1001 }), 1500)).toBeUndefined()
    expect(eventCovers(event, identity({ iat: 1001 }))).toBe(false)
  })

  it('an event past its until revokes nothing', () => {
    const set = setWith({ kind: 'session', id: 's-1', at: 1000, until: 1200 })
    expect(revokedBy(set, identity(), 1200)).toBeUndefined()
    expect(() => assertNotRevoked(set, identity(), 1200)).not.toThrow()
  })

  it('events for other ids revoke nothing', () => {
    const set = setWith(
      { kind: 'session', id: 's-2', at: 1000, until: 2000 },
      { kind: 'key', id: 'k-2', at: 1000, until: 2000 },
      { kind: 'user', id: 'u-2', at: 1000, until: 2000 },
    )
    expect(revokedBy(set, identity(), 1500)).toBeUndefined()
  })

  it("another issuer's connection is never revoked by the edge's events, even for the same sub, sid and kid", () => {
    const events: Revocation[] = [
      { kind: 'session', id: 's-1', at: 1000, until: 2000 },
      { kind: 'key', id: 'k-1', at: 1000, until: 2000 },
      { kind: 'user', id: 'u-1', at: 1000, until: 2000 },
    ]
    const foreign = identity({ issuer: 'https://idp.example' })
    expect(edgeIssued(foreign)).toBe(false)
    expect(edgeIssued(identity())).toBe(true)
    expect(revokedBy(setWith(...events), foreign, 1500)).toBeUndefined()
    for (const event of events) expect(eventCovers(event, foreign)).toBe(false)
  })

  it('a client event never covers a connection (service tokens open no socket)', () => {
    const event = { kind: 'client', id: 'u-1', at: 1000, until: 2000 } as const
    expect(revokedBy(setWith(event), identity(), 1500)).toBeUndefined()
    expect(eventCovers(event, identity())).toBe(false)
  })

  it('a kind the types do not know fails loudly rather than being treated as another', () => {
    expect(() => unhandledKind('device' as never)).toThrow(TypeError)
    expect(() => eventCovers({ kind: 'device' as never, id: 'u-1', at: 1000 }, identity())).toThrow(
      TypeError,
    )
    expect(() =>
      new RevocationSet().add({ kind: 'device' as never, id: 'x', at: 1000, until: 2000 }, 1000),
    ).toThrow(TypeError)
  })
})
