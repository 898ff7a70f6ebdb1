/**
 * Another issuer's claims mapped onto the service's access-token shape
 * (docs/protocol.md §12), against the checker itself: scope claims, rooms
 * claims, `typ` rules, and the refusals, by code.
 */
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import {
  checkForeignClaims,
  foreignSessionId,
} from '../../../../realtime/auth/issuers/foreign-claims.ts'
import type { TrustedIssuer } from '../../../../realtime/auth/issuers/schema.ts'

const NOW = 1_800_000_000
const ISSUER: TrustedIssuer = {
  issuer: 'https://tenant.example/',
  jwksUri: 'https://tenant.example/.well-known/jwks.json',
  audience: ['https://realtime.example.com'],
  algorithms: ['RS256'],
  requireTyp: true,
  scopeClaim: 'scope',
}
const payload = (extra: Record<string, unknown> = {}) => ({
  iss: ISSUER.issuer,
  aud: ['https://realtime.example.com', 'https://tenant.example/userinfo'],
  sub: 'auth0|1',
  jti: 'j-1',
  iat: NOW,
  exp: NOW + 300,
  ...extra,
})
const check = (
  p: Record<string, unknown>,
  issuer: Partial<TrustedIssuer> = {},
  header: Record<string, unknown> = { typ: 'at+jwt' },
) =>
  checkForeignClaims(
    header,
    p,
    { ...ISSUER, ...issuer },
    { clockToleranceSeconds: 5, nowMs: NOW * 1000 },
  )

describe('checkForeignClaims', () => {
  it('derives a session id that no jti and no edge sid can equal, and that names the issuer', () => {
    const sid = foreignSessionId(ISSUER.issuer, 'j-1')
    expect(sid).toMatch(/^x[A-Za-z0-9_-]{22}$/)
    expect(sid).not.toBe(foreignSessionId('https://other.example/', 'j-1'))
    // A token that names its own sid cannot choose the session: the derived one wins.
    expect(check(payload({ sid: 'edge-session' })).sid).toBe(sid)
  })

  it('maps a token without sid, name, nbf, scope or rooms: sid from iss and jti, name = sub, nbf = iat, no scope, no rooms', () => {
    expect(check(payload())).toMatchObject({
      sid: `x${createHash('sha256').update('https://tenant.example/ j-1').digest('base64url').slice(0, 22)}`,
      name: 'auth0|1',
      nbf: NOW,
      scope: '',
      rooms: [],
    })
  })

  it.each([
    ['scope', 'a:read b:write', 'a:read b:write'],
    ['scp', ['a:read', 'b:write'], 'a:read b:write'],
    ['scp', 'a:read', 'a:read'],
    ['permissions', ['read:messages'], 'read:messages'],
  ] as const)('reads %s = %j as the scope %j', (claim, value, scope) => {
    expect(check(payload({ [claim]: value }), { scopeClaim: claim }).scope).toBe(scope)
  })

  it('ignores scope claims other than the configured one', () => {
    expect(check(payload({ scope: 'admin' }), { scopeClaim: 'permissions' }).scope).toBe('')
  })

  it('reads rooms from the configured claim only', () => {
    const p = payload({ 'https://example.com/rooms': ['lobby', 'team:*'], rooms: ['*'] })
    expect(check(p, { roomsClaim: 'https://example.com/rooms' }).rooms).toEqual(['lobby', 'team:*'])
    expect(check(p).rooms).toEqual([])
  })

  it('with requireTyp false takes at+jwt, JWT or no typ, and still never a room grant', () => {
    for (const header of [{ typ: 'at+jwt' }, { typ: 'JWT' }, {}]) {
      expect(check(payload(), { requireTyp: false }, header).sub).toBe('auth0|1')
    }
    expect(() => check(payload(), { requireTyp: false }, { typ: 'room+jwt' })).toThrow(
      expect.objectContaining({ code: 'token_invalid' }),
    )
  })

  it.each([
    ['typ JWT where at+jwt is required', payload(), {}, { typ: 'JWT' }, 'token_invalid'],
    ['another audience', payload({ aud: 'https://other.example' }), {}, undefined, 'token_invalid'],
    ['another issuer', payload({ iss: 'https://evil.example/' }), {}, undefined, 'token_invalid'],
    ['no jti', payload({ jti: undefined }), {}, undefined, 'token_invalid'],
    ['no sub', payload({ sub: undefined }), {}, undefined, 'token_invalid'],
    [
      'a scope list with a space inside an item',
      payload({ scp: ['a b'] }),
      { scopeClaim: 'scp' },
      undefined,
      'token_invalid',
    ],
    ['a scope object', payload({ scope: { a: 1 } }), {}, undefined, 'token_invalid'],
    [
      'a rooms claim that is an object',
      payload({ r: { a: 1 } }),
      { roomsClaim: 'r' },
      undefined,
      'token_invalid',
    ],
    [
      'a room pattern with a space-free but bad character',
      payload({ r: ['lob by!'] }),
      { roomsClaim: 'r' },
      undefined,
      'token_invalid',
    ],
    ['expired', payload({ exp: NOW - 10 }), {}, undefined, 'token_expired'],
    ['not yet valid', payload({ nbf: NOW + 60 }), {}, undefined, 'token_invalid'],
  ] as const)('refuses %s', (_, p, issuer, header, code) => {
    const clean = Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined))
    expect(() => check(clean, issuer, header ?? { typ: 'at+jwt' })).toThrow(
      expect.objectContaining({ code }),
    )
  })
})
