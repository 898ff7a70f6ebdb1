import { env } from 'cloudflare:workers'
import { createLocalJWKSet, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { CLOCK_TOLERANCE_SECONDS } from '../../../shared/constants.ts'
import { verifyAccessToken } from '../../../shared/verify-access-token.ts'
import { ACTIVE_KEY_CACHE_SECONDS } from '../../../edge/constants.ts'
import { importKek, importSigningKey } from '../../../edge/keys/key-material.ts'
import { mintAccessToken, type SigningKey } from '../../../edge/keys/signer.ts'

const ISSUER = env.ISSUER
const M = Number(env.JWKS_MAX_AGE) // 300
const PERIOD = Number(env.ROTATION_PERIOD) // 3600 in tests
const TTL = Number(env.ACCESS_TOKEN_TTL) // 300
const CRON_EVERY = 300
const STEP = 30
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

function stubFor(name: string) {
  return env.KEYS.get(env.KEYS.idFromName(name))
}

async function signerFrom(stub: ReturnType<typeof stubFor>, now: number): Promise<SigningKey> {
  const active = await stub.activeKey(now)
  const key = await importSigningKey(active, await importKek(env.KEY_ENCRYPTION_KEY))
  return { kid: active.kid, alg: active.alg, key, cacheUntil: active.cacheUntil }
}

function mint(signer: SigningKey, now: number) {
  return mintAccessToken(
    signer,
    { sub: 'u-1', sid: 's-1', name: 'alice', scope: 'chat:read', rooms: ['lobby'] },
    { issuer: ISSUER, audience: 'realtime', ttlSeconds: TTL, now },
  )
}

function verify(token: string, jwks: JWK[], at: number) {
  return verifyAccessToken(token, createLocalJWKSet({ keys: jwks }), {
    issuer: ISSUER,
    audience: 'realtime',
    currentDate: new Date(at * 1000),
  })
}

describe('KEYS Durable Object lifecycle', () => {
  it('holds every invariant of docs/protocol.md §4 across several rotation periods', async () => {
    const stub = stubFor('lifecycle')
    const start = 1_800_000_000
    const end = start + 4 * PERIOD + 2 * M
    const snapshots = new Map<number, JWK[]>()
    const live: { token: string; exp: number; kid: string }[] = []
    const activeKids = new Set<string>()
    let signer: SigningKey | undefined
    let fetchedAt = 0

    for (let t = start; t <= end; t += STEP) {
      if ((t - start) % CRON_EVERY === 0) await stub.rotate(t, 'scheduled')
      const jwks = await stub.jwks(t)
      snapshots.set(t, jwks)

      // Invariant 4: public parameters only.
      for (const k of jwks) {
        for (const m of PRIVATE_MEMBERS) expect(k, `private member ${m}`).not.toHaveProperty(m)
        expect(k).toMatchObject({ use: 'sig', alg: 'ES256' })
      }
      // Invariant 1: exactly one active key.
      const listed = await stub.list(t)
      expect(listed.filter((k) => k.state === 'active')).toHaveLength(1)
      expect(listed.filter((k) => k.state === 'next')).toHaveLength(1)

      // An isolate refreshes its cached key at most every ACTIVE_KEY_CACHE_SECONDS.
      if (!signer || t - fetchedAt >= ACTIVE_KEY_CACHE_SECONDS) {
        signer = await signerFrom(stub, t)
        fetchedAt = t
      }
      activeKids.add(signer.kid)
      const token = await mint(signer, t)
      live.push({ token, exp: t + TTL, kid: signer.kid })

      // Invariant 2: a verifier whose cache was filled M seconds ago knows the signing key.
      const stale = snapshots.get(t - M) ?? snapshots.get(start)!
      await expect(
        verify(token, stale, t),
        `token at ${t - start}s vs JWKS cached ${M}s`,
      ).resolves.toMatchObject({
        kid: signer.kid,
      })

      // Invariant 3: every unexpired token still verifies against the JWKS published now.
      for (const old of live) {
        if (old.exp + CLOCK_TOLERANCE_SECONDS < t) continue
        await expect(verify(old.token, jwks, t)).resolves.toBeTruthy()
      }
      live.splice(
        0,
        live.findIndex((o) => o.exp + CLOCK_TOLERANCE_SECONDS >= t),
      )
    }
    // The clock crossed four periods: four rotations, five signing keys.
    expect(activeKids.size).toBe(5)
    // Retired keys leave the JWKS once their tokens have expired: only active, next and at most one retired remain.
    expect((await stub.jwks(end)).length).toBeLessThanOrEqual(3)
  }, 120_000)

  it('rotates on schedule only once the next key has been published for JWKS_MAX_AGE', async () => {
    const stub = stubFor('schedule')
    const t0 = 1_900_000_000
    const first = await stub.list(t0)
    const nextKid = first.find((k) => k.state === 'next')!.kid
    // Before the period: no change.
    expect((await stub.rotate(t0 + PERIOD - 1, 'scheduled')).kind).toBe('unchanged')
    // At the period: the next key (published at t0, long enough ago) is promoted.
    const rotated = await stub.rotate(t0 + PERIOD, 'scheduled')
    expect(rotated).toMatchObject({ kind: 'rotated', active: nextKid })
    // The new next key is fresh; a manual rotation must wait M seconds for it.
    expect(await stub.rotate(t0 + PERIOD + M - 1, 'manual')).toMatchObject({ kind: 'conflict' })
    expect(await stub.rotate(t0 + PERIOD + M, 'manual')).toMatchObject({ kind: 'rotated' })
  })

  it('keeps a retired key published until its last token (and the isolate cache window) has expired', async () => {
    const stub = stubFor('retire')
    const t0 = 1_950_000_000
    const oldKid = (await stub.activeKey(t0)).kid
    await stub.rotate(t0 + M, 'manual')
    const retiredAt = t0 + M
    const removeAt = retiredAt + ACTIVE_KEY_CACHE_SECONDS + TTL + CLOCK_TOLERANCE_SECONDS
    expect((await stub.jwks(removeAt - 1)).map((k) => k.kid)).toContain(oldKid)
    expect((await stub.jwks(removeAt)).map((k) => k.kid)).not.toContain(oldKid)
    expect((await stub.list(removeAt - 1)).find((k) => k.kid === oldKid)).toMatchObject({
      state: 'retired',
      retiredAt,
    })
  })

  it('emergency rotation removes the active key from the JWKS at once and signs with another', async () => {
    const stub = stubFor('emergency')
    const t0 = 2_000_000_000
    const compromised = await signerFrom(stub, t0)
    const token = await mint(compromised, t0)
    const result = await stub.rotate(t0 + 1, 'emergency')
    expect(result).toMatchObject({ kind: 'rotated', dropped: compromised.kid })
    const jwks = await stub.jwks(t0 + 1)
    expect(jwks.map((k) => k.kid)).not.toContain(compromised.kid)
    await expect(verify(token, jwks, t0 + 1)).rejects.toMatchObject({ code: 'token_invalid' })
    const replacement = await signerFrom(stub, t0 + 1)
    expect(replacement.kid).not.toBe(compromised.kid)
    await expect(verify(await mint(replacement, t0 + 1), jwks, t0 + 1)).resolves.toBeTruthy()
    expect((await stub.list(t0 + 1)).filter((k) => k.state === 'active')).toHaveLength(1)
  })

  it('creates exactly one active key when many cold requests race', async () => {
    const stub = stubFor('race')
    const t0 = 2_100_000_000
    const kids = await Promise.all(
      Array.from({ length: 8 }, () => stub.activeKey(t0).then((k) => k.kid)),
    )
    expect(new Set(kids).size).toBe(1)
    expect((await stub.list(t0)).filter((k) => k.state === 'active')).toHaveLength(1)
  })

  it('stores private keys only encrypted: the stored blob does not contain the JWK', async () => {
    const stub = stubFor('at-rest')
    const active = await stub.activeKey(2_200_000_000)
    expect(active.privateEnc).not.toMatch(/"d"|"kty"/)
    const wrongKek = await importKek('d3Jvbmcta2V5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU')
    await expect(importSigningKey(active, wrongKek)).rejects.toThrow()
    // A stored key bound to another kid (AAD) does not decrypt either.
    await expect(
      importSigningKey({ ...active, kid: 'other' }, await importKek(env.KEY_ENCRYPTION_KEY)),
    ).rejects.toThrow()
  })
})
