/**
 * The core verifier against a table of every refusal of docs/protocol.md §5,
 * modelled on jose's test/jwt/verify.test.ts: each row is a token built to
 * fail exactly one check, and the assertion is on the code. No sockets: the
 * keys are a local JWKS and the clock is fixed.
 */
import {
  base64url,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { MAX_TOKEN_BYTES } from '../../shared/constants.ts'
import { AppError, type RealtimeErrorCode } from '../../shared/errors.ts'
import { verifyAccessToken } from '../../shared/verify-access-token.ts'

const ISSUER = 'https://auth.example.test'
const AUDIENCE = 'realtime'
/** The fixed clock, seconds. */
const NOW = 1_763_800_000
const OPTIONS = { issuer: ISSUER, audience: AUDIENCE, currentDate: new Date(NOW * 1000) }
const KID = 'k-1'

let key: CryptoKey
let otherKey: CryptoKey
let getKey: JWTVerifyGetKey

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true })
  key = pair.privateKey as CryptoKey
  otherKey = (await generateKeyPair('ES256')).privateKey as CryptoKey
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' }
  getKey = createLocalJWKSet({ keys: [jwk] })
})

/** Claims that pass, each overridable or removable (undefined). */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const all: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'u-1',
    sid: 's-1',
    jti: 'j-1',
    name: 'Ada',
    iat: NOW,
    nbf: NOW,
    exp: NOW + 300,
    scope: 'chat:read chat:write',
    rooms: ['lobby', 'team:*'],
    ...overrides,
  }
  for (const [k, v] of Object.entries(all)) if (v === undefined) delete all[k]
  return all
}

/** A signed token: ES256, `typ: at+jwt`, `kid: k-1`, unless overridden. */
function sign(
  overrides: { claims?: Record<string, unknown>; header?: Record<string, unknown> } = {},
  signingKey: CryptoKey = key,
): Promise<string> {
  const header: Record<string, unknown> = {
    alg: 'ES256',
    typ: 'at+jwt',
    kid: KID,
    ...overrides.header,
  }
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k]
  return new SignJWT(claims(overrides.claims)).setProtectedHeader(header as never).sign(signingKey)
}

/** A token with `header` and `payload` as given and an empty or junk signature. */
function unsigned(header: Record<string, unknown>, payload = claims(), signature = ''): string {
  return `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`
}

describe('verifyAccessToken', () => {
  it('returns the schema-typed claims and the kid of a valid token', async () => {
    const verified = await verifyAccessToken(await sign(), getKey, OPTIONS)
    expect(verified).toEqual({ kid: KID, claims: claims() })
  })

  it('accepts exp and nbf within the clock tolerance', async () => {
    const token = await sign({ claims: { exp: NOW - 4, nbf: NOW + 4, iat: NOW - 300 } })
    await expect(verifyAccessToken(token, getKey, OPTIONS)).resolves.toMatchObject({ kid: KID })
  })

  const refusals: [string, () => Promise<string> | string, RealtimeErrorCode][] = [
    // Structure, before any key work.
    ['a token over the size limit', () => 'a'.repeat(MAX_TOKEN_BYTES + 1), 'token_malformed'],
    ['a token that is not three base64url segments', () => 'not.a-token', 'token_malformed'],
    ['a token with four segments', () => 'a.b.c.d', 'token_malformed'],
    ['a header that is not JSON', () => 'bm90IGpzb24.e30.', 'token_malformed'],
    ['a header without kid', () => sign({ header: { kid: undefined } }), 'token_malformed'],
    ['a non-string kid', () => sign({ header: { kid: 7 } }), 'token_malformed'],
    ['an empty kid', () => sign({ header: { kid: '' } }), 'token_malformed'],
    [
      'a kid over 256 characters',
      () => sign({ header: { kid: 'k'.repeat(257) } }),
      'token_malformed',
    ],
    [
      'a header without alg',
      () => unsigned({ typ: 'at+jwt', kid: KID }, claims(), 'c2ln'),
      'token_malformed',
    ],
    // Algorithm and key.
    ['alg none', () => unsigned({ alg: 'none', typ: 'at+jwt', kid: KID }), 'token_invalid'],
    [
      'an HMAC alg',
      () => unsigned({ alg: 'HS256', typ: 'at+jwt', kid: KID }, claims(), 'c2ln'),
      'token_invalid',
    ],
    ['a kid not in the key set', () => sign({ header: { kid: 'k-unknown' } }), 'token_invalid'],
    ['a signature by another key under a known kid', () => sign({}, otherKey), 'token_invalid'],
    ['a tampered payload', async () => tamper(await sign()), 'token_invalid'],
    // Header type.
    ['typ missing', () => sign({ header: { typ: undefined } }), 'token_invalid'],
    ['typ JWT instead of at+jwt', () => sign({ header: { typ: 'JWT' } }), 'token_invalid'],
    [
      'a revocation token (typ revocation+jwt)',
      () => sign({ header: { typ: 'revocation+jwt' } }),
      'token_invalid',
    ],
    // Registered claims.
    ['another issuer', () => sign({ claims: { iss: 'https://evil.example' } }), 'token_invalid'],
    ['another audience', () => sign({ claims: { aud: 'billing' } }), 'token_invalid'],
    [
      'expired past the tolerance',
      () => sign({ claims: { iat: NOW - 400, exp: NOW - 6 } }),
      'token_expired',
    ],
    ['not yet valid past the tolerance', () => sign({ claims: { nbf: NOW + 6 } }), 'token_invalid'],
    ['sub missing', () => sign({ claims: { sub: undefined } }), 'token_invalid'],
    ['sid missing', () => sign({ claims: { sid: undefined } }), 'token_invalid'],
    ['jti missing', () => sign({ claims: { jti: undefined } }), 'token_invalid'],
    ['iat missing', () => sign({ claims: { iat: undefined } }), 'token_invalid'],
    ['exp missing', () => sign({ claims: { exp: undefined } }), 'token_invalid'],
    // The access-token schema.
    ['nbf missing', () => sign({ claims: { nbf: undefined } }), 'token_invalid'],
    ['name missing', () => sign({ claims: { name: undefined } }), 'token_invalid'],
    ['an empty sub', () => sign({ claims: { sub: '' } }), 'token_invalid'],
    ['a non-string sid', () => sign({ claims: { sid: 42 } }), 'token_invalid'],
    ['rooms not an array', () => sign({ claims: { rooms: 'lobby' } }), 'token_invalid'],
    ['a room pattern with a space', () => sign({ claims: { rooms: ['a b'] } }), 'token_invalid'],
    [
      'a scope with a double quote',
      () => sign({ claims: { scope: 'chat"read' } }),
      'token_invalid',
    ],
  ]

  it.each(refusals)('refuses %s', async (_name, make, code) => {
    const token = await make()
    const error = await verifyAccessToken(token, getKey, OPTIONS).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(error).toBeInstanceOf(AppError)
    expect(error).toMatchObject({ code })
    // Messages name the failed check, never the input.
    expect((error as Error).message).not.toContain(token)
  })

  it('answers unavailable, not a token code, when the key resolver is down', async () => {
    const down: JWTVerifyGetKey = async () => {
      throw new AppError('unavailable', 'key set unreachable')
    }
    await expect(verifyAccessToken(await sign(), down, OPTIONS)).rejects.toMatchObject({
      code: 'unavailable',
    })
  })

  it('answers unavailable for an unexpected resolver failure, never token_invalid', async () => {
    const broken: JWTVerifyGetKey = async () => {
      throw new Error('bug')
    }
    await expect(verifyAccessToken(await sign(), broken, OPTIONS)).rejects.toMatchObject({
      code: 'unavailable',
    })
  })

  it('never consults jku, x5u or jwk: a token naming its own key is still checked against the set', async () => {
    const attacker = await generateKeyPair('ES256', { extractable: true })
    const jwk = await exportJWK(attacker.publicKey)
    const token = await sign(
      { header: { jwk, jku: 'https://evil.example/jwks', x5u: 'https://evil.example/x5u' } },
      attacker.privateKey as CryptoKey,
    )
    await expect(verifyAccessToken(token, getKey, OPTIONS)).rejects.toMatchObject({
      code: 'token_invalid',
    })
  })
})

/** Flip one character of the payload segment, keeping it base64url. */
function tamper(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const last = payload.at(-2) === 'A' ? 'B' : 'A'
  return `${header}.${payload.slice(0, -2)}${last}${payload.at(-1)}.${signature}`
}
