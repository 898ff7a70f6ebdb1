/**
 * The realtime token verifier around the native check: the cache keyed by the
 * whole token spares a recently seen token its signature check (a reconnect,
 * a second tab), never its time and revocation checks.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import { TokenVerifier } from '../../../realtime/auth/token-verifier.ts'
import { importNativeKey } from '../../../realtime/auth/native-signature.ts'
import { RevocationSet } from '../../../realtime/revocations/revocation-set.ts'
import { createKeySet, type KeySetOptions } from '../../../shared/jwks/key-set.ts'
import { fixtureKey, mintAccessToken, type FixtureKey } from './support/jws-fixtures.ts'

const ISSUER = 'https://edge.example'
const T0 = 1_800_000_000_000
let t = T0
let key: FixtureKey
let checks: string[]
let revocations: RevocationSet

const mint = (claims: Record<string, unknown> = {}, signer = key) =>
  mintAccessToken(signer, ISSUER, Math.floor(t / 1000), claims)

async function verifierFor(
  keys: FixtureKey[],
  options: Partial<KeySetOptions> = {},
  cacheSize?: number,
) {
  const keySet = createKeySet({
    jwksUrl: `${ISSUER}/.well-known/jwks.json`,
    issuer: ISSUER,
    algorithms: ['ES256', 'RS256'],
    now: () => t,
    fetch: async () => Response.json({ keys: keys.map((k) => k.jwk) }),
    ...options,
  })
  await keySet.load()
  return new TokenVerifier({
    keySet,
    issuer: ISSUER,
    audience: 'realtime',
    revocations,
    now: () => t,
    onSignatureCheck: (alg) => checks.push(alg),
    ...(cacheSize !== undefined && { cacheSize }),
  })
}

beforeEach(() => {
  t = T0
  key ??= fixtureKey('ES256', 'k1')
  checks = []
  revocations = new RevocationSet()
})

describe('TokenVerifier', () => {
  it('a token verified recently costs no signature check when it comes back (a reconnect)', async () => {
    const verifier = await verifierFor([key], { importNative: importNativeKey })
    const token = mint()
    const first = await verifier.verify(token)
    t += 10_000
    const again = await verifier.verify(token)
    expect(again.claims).toEqual(first.claims)
    expect(checks).toEqual(['ES256'])
    await verifier.verify(mint())
    expect(checks).toEqual(['ES256', 'ES256'])
  })

  it('a cached token is still refused once expired, and once revoked, without a signature check', async () => {
    const verifier = await verifierFor([key], { importNative: importNativeKey })
    const token = mint()
    await verifier.verify(token)
    revocations.add(
      { kind: 'session', id: 's-1', at: T0 / 1000, until: T0 / 1000 + 3600 },
      T0 / 1000,
    )
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'token_revoked' })
    t += 66_000
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'token_expired' })
    expect(checks).toEqual(['ES256'])
  })

  it('recall answers in the same tick for a remembered token, with every check but the signature', async () => {
    const verifier = await verifierFor([key], { importNative: importNativeKey })
    const token = mint()
    expect(verifier.recall(token)).toBeUndefined()
    const first = await verifier.verify(token)
    expect(verifier.recall(token)).toBe(first)
    // A forged neighbour of a remembered token is not remembered.
    expect(
      verifier.recall(token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1)),
    ).toBeUndefined()
    revocations.add({ kind: 'user', id: 'u-1', at: T0 / 1000, until: T0 / 1000 + 3600 }, T0 / 1000)
    expect(() => verifier.recall(token)).toThrow(expect.objectContaining({ code: 'token_revoked' }))
    revocations = new RevocationSet()
    const fresh = await verifierFor([key], { importNative: importNativeKey })
    await fresh.verify(token)
    t += 66_000
    expect(() => fresh.recall(token)).toThrow(expect.objectContaining({ code: 'token_expired' }))
    expect(checks).toEqual(['ES256', 'ES256'])
  })

  it('the cache holds cacheSize tokens: the oldest one is checked again', async () => {
    const verifier = await verifierFor([key], { importNative: importNativeKey }, 2)
    const [a, b, c] = [mint(), mint(), mint()]
    for (const token of [a, b, c, b, c]) await verifier.verify(token)
    expect(checks).toHaveLength(3)
    await verifier.verify(a)
    expect(checks).toHaveLength(4)
  })

  it('a forged token that differs from a cached one by one character is checked, and refused', async () => {
    const verifier = await verifierFor([key], { importNative: importNativeKey })
    const token = mint()
    await verifier.verify(token)
    const forged = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1)
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'token_invalid' })
    expect(checks).toHaveLength(2)
  })

  it('verifies with a key set built without importNative (each key imported once, on first use)', async () => {
    const rsa = fixtureKey('RS256', 'r1')
    const verifier = await verifierFor([key, rsa])
    await verifier.verify(mint({}, rsa))
    await verifier.verify(mint({}, rsa))
    await verifier.verify(mint())
    expect(checks).toEqual(['RS256', 'RS256', 'ES256'])
  })

  it('an unknown kid is looked up asynchronously: a key published since the last fetch verifies', async () => {
    const next = fixtureKey('ES256', 'k2')
    let published = [key]
    const verifier = await verifierFor([key], {
      importNative: importNativeKey,
      fetch: async () => Response.json({ keys: published.map((k) => k.jwk) }),
    })
    published = [key, next]
    const verified = await verifier.verify(mint({}, next))
    expect(verified.kid).toBe('k2')
  })
})
