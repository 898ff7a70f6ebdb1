import { beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { proofKey, signProof, type ProofFields, type ProofKey } from '../../support/dpop-proofs.ts'
import { call, expectError, type TestUser } from '../support.ts'
import { createUser, dpopEdge, EDGE, sessionCount } from './support.ts'

const edge = dpopEdge()
let alice: TestUser
let key: ProofKey

beforeAll(async () => {
  alice = await createUser()
  key = await proofKey()
})

const LOGIN = `${EDGE}/auth/login`
const now = () => Math.floor(Date.now() / 1000)

/** Hostile proofs (docs/protocol.md §15, RFC 9449 §4.3): each refused before the route runs. */
const HOSTILE: [string, (k: ProofKey) => Promise<string>][] = [
  ['a proof for another htu', (k) => signProof(k, { htm: 'POST', htu: `${EDGE}/auth/refresh` })],
  [
    'a proof for another origin',
    (k) => signProof(k, { htm: 'POST', htu: 'https://evil.test/auth/login' }),
  ],
  ['a proof for another htm', (k) => signProof(k, { htm: 'GET', htu: LOGIN })],
  [
    'a proof too old (iat 2 minutes ago)',
    (k) => signProof(k, { htm: 'POST', htu: LOGIN, iat: now() - 120 }),
  ],
  [
    'a proof from the future (iat in 2 minutes)',
    (k) => signProof(k, { htm: 'POST', htu: LOGIN, iat: now() + 120 }),
  ],
  ['a proof without iat', (k) => signProof(k, { htm: 'POST', htu: LOGIN, iat: null })],
  ['a proof without jti', (k) => signProof(k, { htm: 'POST', htu: LOGIN, jti: null })],
  ['alg none', (k) => signProof(k, { htm: 'POST', htu: LOGIN, alg: 'none' })],
  [
    'alg HS256 keyed with the public key',
    (k) => signProof(k, { htm: 'POST', htu: LOGIN, alg: 'HS256' }),
  ],
  ['a private key in jwk', (k) => signProof(k, { htm: 'POST', htu: LOGIN, jwk: k.privateJwk })],
  ['no jwk', (k) => signProof(k, { htm: 'POST', htu: LOGIN, jwk: null })],
  ['typ missing', (k) => signProof(k, { htm: 'POST', htu: LOGIN, typ: null })],
  ['typ JWT', (k) => signProof(k, { htm: 'POST', htu: LOGIN, typ: 'JWT' })],
  [
    'signed by a key other than its jwk',
    async (k) => signProof(k, { htm: 'POST', htu: LOGIN, jwk: (await proofKey()).publicJwk }),
  ],
  [
    'an ath without an access token',
    (k) => signProof(k, { htm: 'POST', htu: LOGIN, accessToken: 'x' }),
  ],
  ['not a JWS', async () => 'not-a-proof'],
  ['two DPoP headers', async (k) => `${await signProof(k, { htm: 'POST', htu: LOGIN })}, x`],
  ['oversize', (k) => signProof(k, { htm: 'POST', htu: LOGIN, claims: { pad: 'x'.repeat(3000) } })],
]

describe('the DPoP header on the token routes: stolen-token drills', () => {
  it.each(HOSTILE)('%s: 400 invalid_dpop_proof, and no session is opened', async (_, make) => {
    const bob = await createUser()
    const proof = await make(key)
    const res = await edge.postWith(
      '/auth/login',
      { username: bob.username, password: bob.password },
      proof,
    )
    await expectError(res, 400, 'invalid_dpop_proof', [proof])
    expect(await sessionCount(bob.sub)).toBe(0)
  })

  it('a replayed proof is refused the second time, in any isolate (the Durable Object holds the jti)', async () => {
    const proof = await edge.proof(key, '/auth/login')
    const body = { username: alice.username, password: alice.password }
    expect((await edge.postWith('/auth/login', body, proof)).status).toBe(200)
    await expectError(await edge.postWith('/auth/login', body, proof), 400, 'invalid_dpop_proof')
    // The same jti through the worker's own fetch path (another env object) is refused too.
    const again = await call('/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: proof },
      body: JSON.stringify(body),
    })
    await expectError(again, 400, 'invalid_dpop_proof')
  })

  it('a query string and fragment in htu are ignored on both sides (RFC 9449 §4.3 (9))', async () => {
    const proof = await signProof(key, { htm: 'POST', htu: `${LOGIN}?x=1#frag` })
    const res = await edge.postWith(
      '/auth/login?ignored=1',
      { username: alice.username, password: alice.password },
      proof,
    )
    expect(res.status).toBe(200)
  })

  it('logs the failed check and the jkt the proof names, never the proof', async () => {
    const proof = await signProof(key, { htm: 'GET', htu: LOGIN })
    const lines: string[] = []
    const warn = console.warn
    console.warn = (line: string) => lines.push(line)
    try {
      await edge.postWith('/auth/login', { username: alice.username, password: 'x' }, proof)
    } finally {
      console.warn = warn
    }
    const refusal = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'dpop proof refused')
    expect(refusal).toMatchObject({ check: 'htm: not the request method', jkt: key.jkt })
    for (const line of lines) expect(line).not.toContain(proof)
  })
})

describe('DPOP_NONCE=on (RFC 9449 §8)', () => {
  const nonced = dpopEdge({ DPOP_NONCE: 'on' })
  const body = () => ({ username: alice.username, password: alice.password })

  it('asks for a nonce with 400 use_dpop_nonce and DPoP-Nonce; a retry with it succeeds', async () => {
    const first = await nonced.postWith(
      '/auth/login',
      body(),
      await nonced.proof(key, '/auth/login'),
    )
    const nonce = first.headers.get('dpop-nonce')
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(first.headers.get('access-control-expose-headers')).toBe('DPoP-Nonce')
    await expectError(first, 400, 'use_dpop_nonce')
    const retry = await nonced.postWith(
      '/auth/login',
      body(),
      await nonced.proof(key, '/auth/login', { nonce: nonce! }),
    )
    expect(retry.status).toBe(200)
    expect(((await retry.json()) as TokenResponse).token_type).toBe('DPoP')
    expect(retry.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('refuses a nonce it never handed out with use_dpop_nonce and a fresh one', async () => {
    const res = await nonced.postWith(
      '/auth/login',
      body(),
      await nonced.proof(key, '/auth/login', { nonce: 'A'.repeat(43) }),
    )
    expect(res.headers.get('dpop-nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    await expectError(res, 400, 'use_dpop_nonce')
  })

  it('a refresh of a bound session goes through the same round trip', async () => {
    const ask = await nonced.postWith('/auth/login', body(), await nonced.proof(key, '/auth/login'))
    const nonce = ask.headers.get('dpop-nonce')!
    const fields: Partial<ProofFields> = { nonce }
    const login = await nonced.postWith(
      '/auth/login',
      body(),
      await nonced.proof(key, '/auth/login', fields),
    )
    const tokens = (await login.json()) as TokenResponse
    const res = await nonced.postWith(
      '/auth/refresh',
      { refresh_token: tokens.refresh_token },
      await nonced.proof(key, '/auth/refresh', fields),
    )
    expect(res.status).toBe(200)
  })
})

describe('discovery', () => {
  it('advertises dpop_signing_alg_values_supported: ES256 and EdDSA', async () => {
    const res = await call('/.well-known/openid-configuration')
    const doc = (await res.json()) as Record<string, unknown>
    expect(doc.dpop_signing_alg_values_supported).toEqual(['ES256', 'EdDSA'])
  })
})

describe('configuration', () => {
  it.each([
    ['DPOP', 'sometimes'],
    ['DPOP_NONCE', 'yes'],
  ])(
    '%s=%s is a configuration error: 500 server_error, never a silent default',
    async (name, value) => {
      const bad = dpopEdge({ [name]: value })
      await expectError(await bad.postWith('/auth/login', {}), 500, 'server_error')
    },
  )
})
