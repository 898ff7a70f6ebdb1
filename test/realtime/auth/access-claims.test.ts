/**
 * realtime's hand check of an access token's claims (`readAccessClaims`)
 * against the schema it replaces on the hot path, `AccessClaimsSchema` with
 * valibot, as the oracle: on 20,000 seeded mutations of valid claims (every
 * claim deleted, retyped or set to a value at or past the schema's edges;
 * several at once; extra keys; inherited keys), both must accept the same
 * inputs and give the same output, key for key and in the same order.
 */
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { AccessClaimsSchema } from '../../../shared/claims.ts'
import { readAccessClaims } from '../../../realtime/auth/access-claims.ts'
import { prng, type Prng } from './support/jws-fixtures.ts'
import { ANY_VALUES, CLAIM_NAMES, CLAIM_VALUES, JKT } from './support/claim-values.ts'

const RUNS = 20_000

const VALID = {
  iss: 'https://edge.example',
  aud: 'realtime',
  sub: 'u-1',
  sid: 's-1',
  jti: 'j-1',
  name: 'alice',
  iat: 1_800_000_000,
  nbf: 1_800_000_000,
  exp: 1_800_000_300,
  scope: 'chat:read chat:write',
  rooms: ['lobby', 'team:*'],
  cnf: { jkt: JKT },
}

/** One seeded mutation of {@link VALID}; returns its name for the tally. */
function mutate(rng: Prng): { kind: string; claims: Record<string, unknown> } {
  const claims: Record<string, unknown> = { ...VALID, rooms: [...VALID.rooms] }
  const edits = 1 + (rng.int(4) === 0 ? rng.int(3) : 0)
  const kinds: string[] = []
  for (let i = 0; i < edits; i++) {
    const claim = rng.pick(CLAIM_NAMES)
    switch (rng.int(5)) {
      case 0:
        delete claims[claim]
        kinds.push('deleted')
        break
      case 1:
        claims[claim] = rng.pick(ANY_VALUES)
        kinds.push('retyped')
        break
      case 2:
        claims[`x-${rng.int(3)}`] = rng.pick(ANY_VALUES)
        kinds.push('extra key')
        break
      default:
        claims[claim] = rng.pick(CLAIM_VALUES[claim]!)
        kinds.push('edge value')
    }
  }
  if (rng.int(50) === 0) {
    // A claim inherited, not own: both read it (the schema with `in`).
    const claim = rng.pick(CLAIM_NAMES)
    const value = claims[claim]
    delete claims[claim]
    return { kind: 'inherited', claims: Object.assign(Object.create({ [claim]: value }), claims) }
  }
  return { kind: kinds.sort().join('+'), claims }
}

describe('readAccessClaims agrees with AccessClaimsSchema', () => {
  it('takes the valid claims, and gives the same output as the schema', () => {
    const parsed = v.parse(AccessClaimsSchema, { ...VALID, extra: 1 })
    const read = readAccessClaims({ ...VALID, extra: 1 })
    expect(read).toEqual(parsed)
    expect(Object.keys(read!)).toEqual(Object.keys(parsed))
  })

  it(`on ${RUNS} seeded mutations of valid claims`, () => {
    const rng = prng(0xc1a1)
    const tally = new Map<string, { runs: number; accepted: number }>()
    const disagreements: unknown[] = []
    for (let run = 0; run < RUNS; run++) {
      const { kind, claims } = mutate(rng)
      const oracle = v.safeParse(AccessClaimsSchema, claims)
      const read = readAccessClaims(claims)
      const row = tally.get(kind) ?? { runs: 0, accepted: 0 }
      tally.set(kind, row)
      row.runs++
      if (read) row.accepted++
      const same = oracle.success
        ? read !== undefined &&
          JSON.stringify(Object.entries(read)) === JSON.stringify(Object.entries(oracle.output)) &&
          Object.is(read.iat, oracle.output.iat)
        : read === undefined
      if (!same) disagreements.push({ kind, claims, oracle: oracle.success, read })
    }
    expect(disagreements.slice(0, 5)).toEqual([])
    // The mutations made both valid and invalid claims of each simple kind (the test can tell).
    for (const kind of ['deleted', 'retyped', 'edge value', 'extra key']) {
      const row = tally.get(kind)!
      expect(row.runs, kind).toBeGreaterThan(100)
      if (kind !== 'extra key') expect(row.accepted, kind).toBeLessThan(row.runs)
      if (kind !== 'deleted') expect(row.accepted, kind).toBeGreaterThan(0)
    }
    expect(tally.get('extra key')!.accepted).toBe(tally.get('extra key')!.runs)
    expect(tally.get('inherited')!.runs).toBeGreaterThan(0)
  })

  it('refuses each edge value the schema refuses, claim by claim', () => {
    for (const claim of CLAIM_NAMES) {
      for (const value of [...CLAIM_VALUES[claim]!, ...ANY_VALUES]) {
        const claims = { ...VALID, [claim]: value }
        expect(readAccessClaims(claims) !== undefined, `${claim}: ${String(value)}`).toBe(
          v.safeParse(AccessClaimsSchema, claims).success,
        )
      }
    }
  })

  it('gives arrays of its own, not the payload’s', () => {
    const payload = { ...VALID, aud: ['realtime'], rooms: ['lobby'] }
    const read = readAccessClaims(payload)!
    expect(read.rooms).toEqual(payload.rooms)
    expect(read.rooms).not.toBe(payload.rooms)
    expect(read.aud).not.toBe(payload.aud)
  })
})
