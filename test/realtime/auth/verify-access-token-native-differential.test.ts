/**
 * Differential test of the native verifier against jose: seeded mutations of
 * valid tokens of every key-set algorithm, each verified by
 * `verifyAccessTokenNative` (node:crypto) and by `verifyAccessToken` (the
 * strict front, then `jose.jwtVerify` with the same options). The native path
 * must accept exactly what jose accepts, with the same claims, and refuse
 * with the same code, except where it is stricter by design (docs/protocol.md
 * §5): a segment that is not canonical base64url, and a `crit` or `b64`
 * header, which jose would take.
 */
import { base64url } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../../../shared/errors.ts'
import { KEY_SET_ALGORITHMS, type KeySetAlgorithm } from '../../../shared/jwks/algorithms.ts'
import { createKeySet, type KeySet } from '../../../shared/jwks/key-set.ts'
import { verifyAccessToken } from '../../../shared/verify-access-token.ts'
import { importNativeKey } from '../../../realtime/auth/native-signature.ts'
import { verifyAccessTokenNative } from '../../../realtime/auth/verify-access-token-native.ts'
import { fixtureKey, prng, type FixtureKey } from './support/jws-fixtures.ts'
import { MUTATORS, mutate, validToken, type MutationContext } from './support/token-mutations.ts'

const ISSUER = 'https://edge.example'
const AUDIENCE = 'realtime'
const TOLERANCE = 5
// Half a second past a whole second, so the floor of the clock matters.
const NOW_MS = 1_800_000_000_500
const NOW_S = Math.floor(NOW_MS / 1000)
/** Mutations per algorithm: 10,000 of ES256 (the default alg), 1,000 of each other: 14,000 in all. */
const RUNS: Record<KeySetAlgorithm, number> = {
  ES256: 10_000,
  ES384: 1_000,
  EdDSA: 1_000,
  RS256: 1_000,
  PS256: 1_000,
}

type Outcome = { ok: true; claims: unknown; kid: string } | { ok: false; code: string }

async function outcome(verify: () => Promise<{ claims: unknown; kid: string }>): Promise<Outcome> {
  try {
    const { claims, kid } = await verify()
    return { ok: true, claims, kid }
  } catch (err) {
    if (!(err instanceof AppError)) throw err
    return { ok: false, code: err.code }
  }
}

/** Where the native path may refuse what jose takes, or refuse it with another code. */
function stricterByDesign(token: string): boolean {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]*$/.test(p))) return false
  try {
    if (parts.some((p) => base64url.encode(base64url.decode(p)) !== p)) return true
    const header = JSON.parse(new TextDecoder().decode(base64url.decode(parts[0]!)))
    return header !== null && typeof header === 'object' && ('crit' in header || 'b64' in header)
  } catch {
    return false
  }
}

let keys: Record<KeySetAlgorithm, FixtureKey>
let impostors: Record<KeySetAlgorithm, FixtureKey>
let keySet: KeySet
let fetches = 0

beforeAll(async () => {
  // The issuer's keys, and impostors: the same kids and algs, other key material.
  const generate = () =>
    Object.fromEntries(
      KEY_SET_ALGORITHMS.map((alg) => [alg, fixtureKey(alg, `issuer-${alg.toLowerCase()}`)]),
    ) as unknown as Record<KeySetAlgorithm, FixtureKey>
  keys = generate()
  impostors = generate()
  const body = JSON.stringify({ keys: KEY_SET_ALGORITHMS.map((alg) => keys[alg].jwk) })
  keySet = createKeySet({
    jwksUrl: `${ISSUER}/.well-known/jwks.json`,
    issuer: ISSUER,
    algorithms: KEY_SET_ALGORITHMS,
    importNative: importNativeKey,
    now: () => NOW_MS,
    fetch: async () => {
      fetches++
      return new Response(body, { headers: { 'cache-control': 'max-age=300' } })
    },
  })
  await keySet.load()
})

describe.each(KEY_SET_ALGORITHMS)('native verification of %s agrees with jose', (alg) => {
  it(`on ${RUNS[alg]} seeded mutations of valid tokens`, async () => {
    const rng = prng(0x5eed + KEY_SET_ALGORITHMS.indexOf(alg))
    const claims = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'u-1',
      sid: 's-1',
      jti: 'j-1',
      name: 'alice',
      iat: NOW_S - 10,
      nbf: NOW_S - 10,
      exp: NOW_S + 290,
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'team:*'],
    }
    const context: MutationContext = {
      rng,
      key: keys[alg],
      others: KEY_SET_ALGORITHMS.filter((a) => a !== alg).map((a) => keys[a]),
      impostor: impostors[alg],
      claims,
      nowSeconds: NOW_S,
      tolerance: TOLERANCE,
    }
    const bases = Array.from({ length: 8 }, (_, i) =>
      validToken(context, { ...claims, jti: `j-${i}`, sid: `s-${i}` }),
    )
    const options = { issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: TOLERANCE }
    const tally = new Map<string, { runs: number; accepted: number; stricter: number }>()
    const disagreements: unknown[] = []
    for (let run = 0; run < RUNS[alg]; run++) {
      const { kind, token } = mutate(context, rng.pick(bases))
      const jose = await outcome(() =>
        verifyAccessToken(token, keySet.getKey, {
          ...options,
          algorithms: keySet.allowedAlgorithms,
          currentDate: new Date(NOW_MS),
        }),
      )
      const native = await outcome(() =>
        verifyAccessTokenNative(token, keySet, { ...options, nowMs: NOW_MS }),
      )
      const row = tally.get(kind) ?? { runs: 0, accepted: 0, stricter: 0 }
      tally.set(kind, row)
      row.runs++
      if (native.ok) row.accepted++
      const same = JSON.stringify(jose) === JSON.stringify(native)
      if (same) continue
      // Stricter by design: refused (malformed, or invalid for crit/b64) where jose took it or refused it otherwise.
      if (!native.ok && stricterByDesign(token)) {
        row.stricter++
        continue
      }
      disagreements.push({ kind, jose, native, token })
    }
    expect(disagreements.slice(0, 5)).toEqual([])
    // Every kind of mutation ran, and some of them made tokens that are still valid (the test can tell).
    expect([...tally.keys()].sort()).toEqual(Object.keys(MUTATORS).sort())
    expect(tally.get('unchanged')!.accepted).toBe(tally.get('unchanged')!.runs)
    expect(tally.get('signed by another issuer key under its own kid')!.accepted).toBeGreaterThan(0)
    expect(tally.get('bit flip in the signature')!.accepted).toBe(0)
    expect(tally.get('HS256 keyed with the public key')!.accepted).toBe(0)
    expect(tally.get('signed by an impostor under the same kid')!.accepted).toBe(0)
  })
})

describe('the differential run', () => {
  it('made at least one JWKS fetch per cooldown, and no more, for all its unknown kids', () => {
    // One load plus at most one unknown-kid refetch: the clock does not move.
    expect(fetches).toBeLessThanOrEqual(2)
  })
})
