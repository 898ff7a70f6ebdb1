/**
 * The realtime token verifier as a unit: the shared checks against a real key
 * set (its fetch injected), the signature cache, and revocation on every call.
 * The clock is injected; nothing waits on real time.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { TokenVerifier } from '../../../realtime/auth/token-verifier.ts'
import { RevocationSet } from '../../../realtime/revocations/revocation-set.ts'
import { createKeySet, type KeySet } from '../../../shared/jwks/key-set.ts'

const ISSUER = 'https://auth.example.test'
const KID = 'k-1'
/** The fixed start of the clock, seconds. */
const T0 = 1_763_800_000

let privateKey: CryptoKey
let jwk: JWK

beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true })
  privateKey = pair.privateKey as CryptoKey
  jwk = { ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256', use: 'sig' }
})

function mint(claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({
    sid: 's-1',
    name: 'Ada',
    scope: 'chat:read',
    rooms: ['lobby'],
    ...claims,
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: KID })
    .setIssuer(ISSUER)
    .setAudience('realtime')
    .setSubject(String(claims.sub ?? 'u-1'))
    .setJti(`j-${Math.random().toString(36).slice(2)}`)
    .setIssuedAt(T0)
    .setNotBefore(T0)
    .setExpirationTime(T0 + 300)
    .sign(privateKey)
}

/** A verifier on a clock the test moves, over a real key set whose fetch serves `jwk`; counts key lookups. */
async function setUp(options: { cacheSize?: number } = {}) {
  const clock = { ms: T0 * 1000 }
  const now = () => clock.ms
  const real = createKeySet({
    jwksUrl: `${ISSUER}/.well-known/jwks.json`,
    issuer: ISSUER,
    now,
    fetch: async () => Response.json({ keys: [jwk] }),
  })
  await real.load()
  let lookups = 0
  const keySet: KeySet = {
    ...real,
    getKey: (header, token) => {
      lookups++
      return real.getKey(header, token)
    },
  }
  const revocations = new RevocationSet()
  const verified: string[] = []
  const verifier = new TokenVerifier({
    keySet,
    issuer: ISSUER,
    audience: 'realtime',
    revocations,
    now,
    onVerified: (kid) => verified.push(kid),
    ...options,
  })
  return {
    verifier,
    revocations,
    clock,
    lookups: () => lookups,
    verified,
    close: () => real.close(),
  }
}

describe('TokenVerifier', () => {
  it('verifies a token and reports its kid', async () => {
    const { verifier, verified, close } = await setUp()
    const token = await mint()
    const result = await verifier.verify(token)
    expect(result).toMatchObject({ kid: KID, token, claims: { sub: 'u-1', sid: 's-1' } })
    expect(verified).toEqual([KID])
    close()
  })

  it('checks a token seen before without a second signature check', async () => {
    const { verifier, lookups, close } = await setUp()
    const token = await mint()
    await verifier.verify(token)
    await verifier.verify(token)
    expect(lookups()).toBe(1)
    close()
  })

  it('still refuses a cached token once it has expired (past the tolerance)', async () => {
    const { verifier, clock, close } = await setUp()
    const token = await mint()
    await verifier.verify(token)
    clock.ms = (T0 + 300 + 5) * 1000
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'token_expired' })
    close()
  })

  it('still refuses a cached token once its session is revoked', async () => {
    const { verifier, revocations, close } = await setUp()
    const token = await mint()
    await verifier.verify(token)
    revocations.add({ kind: 'session', id: 's-1', at: T0, until: T0 + 600 }, T0)
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'token_revoked' })
    close()
  })

  it('refuses a token of a revoked user issued at or before the revocation, and admits a later one', async () => {
    const { verifier, revocations, close } = await setUp()
    revocations.add({ kind: 'user', id: 'u-1', at: T0, until: T0 + 600 }, T0)
    await expect(verifier.verify(await mint())).rejects.toMatchObject({ code: 'token_revoked' })
    await expect(verifier.verify(await mint({ sub: 'u-2' }))).resolves.toMatchObject({ kid: KID })
    close()
  })

  it('keeps at most cacheSize tokens: the oldest is checked again', async () => {
    const { verifier, lookups, close } = await setUp({ cacheSize: 2 })
    const [a, b, c] = await Promise.all([mint(), mint(), mint()])
    for (const token of [a, b, c]) await verifier.verify(token)
    expect(lookups()).toBe(3)
    await verifier.verify(c)
    expect(lookups()).toBe(3)
    await verifier.verify(a)
    expect(lookups()).toBe(4)
    close()
  })

  it('a forged token never hits the cache of the real one', async () => {
    const { verifier, close } = await setUp()
    const token = await mint()
    await verifier.verify(token)
    const [header, payload] = token.split('.')
    await expect(verifier.verify(`${header}.${payload}.AAAA`)).rejects.toMatchObject({
      code: 'token_invalid',
    })
    close()
  })
})
