import * as v from 'valibot'
import { describe, expect, expectTypeOf, it } from 'vitest'
import {
  RevocationEventSchema,
  RoomGrantClaimsSchema,
  ServiceClaimsSchema,
  type RoomGrantClaims,
  type ServiceClaims,
} from '../../shared/claims.ts'

const service = {
  iss: 'http://edge.test',
  aud: 'realtime-api',
  sub: 'c1',
  client_id: 'c1',
  scope: 'publish grants',
  jti: 'j',
  iat: 1,
  nbf: 1,
  exp: 2,
}
const grant = {
  iss: 'http://edge.test',
  aud: 'realtime',
  sub: 'u',
  rooms: ['doc:42'],
  client_id: 'c1',
  jti: 'j',
  iat: 1,
  exp: 2,
}

describe('ServiceClaimsSchema', () => {
  it('accepts the claims of a service token', () => {
    expect(v.parse(ServiceClaimsSchema, service)).toEqual(service)
  })

  it.each(['client_id', 'scope', 'sub', 'nbf', 'exp'])('refuses claims without %s', (claim) => {
    const { [claim]: _, ...rest } = service as Record<string, unknown>
    expect(v.is(ServiceClaimsSchema, rest)).toBe(false)
  })

  it('types the claims', () => {
    expectTypeOf<ServiceClaims>().toMatchTypeOf<{ client_id: string; scope: string; sub: string }>()
    expectTypeOf<ServiceClaims>().not.toHaveProperty('sid')
  })
})

describe('RoomGrantClaimsSchema', () => {
  it('accepts a grant with and without sid', () => {
    expect(v.parse(RoomGrantClaimsSchema, grant)).toEqual(grant)
    expect(v.parse(RoomGrantClaimsSchema, { ...grant, sid: 's' })).toEqual({ ...grant, sid: 's' })
  })

  it.each([
    ['no rooms', { rooms: [] }],
    ['a pattern', { rooms: ['team:*'] }],
    ['21 rooms', { rooms: Array.from({ length: 21 }, (_, i) => `r${i}`) }],
    ['no client_id', { client_id: undefined }],
    ['an empty sid', { sid: '' }],
  ])('refuses %s', (_, change) => {
    expect(v.is(RoomGrantClaimsSchema, { ...grant, ...change })).toBe(false)
  })

  it('types the claims', () => {
    expectTypeOf<RoomGrantClaims['rooms']>().toEqualTypeOf<string[]>()
    expectTypeOf<RoomGrantClaims['sid']>().toEqualTypeOf<string | undefined>()
  })
})

describe('RevocationEventSchema', () => {
  it('accepts the client kind (docs/protocol.md §6, v1.1)', () => {
    const event = { cursor: 1, kind: 'client', id: 'c1', at: 1, until: 2 }
    expect(v.parse(RevocationEventSchema, event)).toEqual(event)
    expect(v.is(RevocationEventSchema, { ...event, kind: 'service' })).toBe(false)
  })
})
