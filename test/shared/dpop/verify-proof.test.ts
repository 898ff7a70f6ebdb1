import { generateKeyPair as dpopKeyPair, generateProof } from 'dpop'
import { beforeAll, describe, expect, it } from 'vitest'
import { accessTokenHash, verifyDpopProof } from '../../../shared/dpop/index.ts'
import { proofKey, sha256, signProof, type ProofKey } from '../../support/dpop-proofs.ts'

const HTU = 'https://rt.example.com/api/things'
const NOW = 1_800_000_000_000
const iat = (offsetSeconds = 0) => Math.floor(NOW / 1000) + offsetSeconds
let key: ProofKey
let other: ProofKey

beforeAll(async () => {
  key = await proofKey()
  other = await proofKey()
})

const verify = (proof: string, expect: Partial<Parameters<typeof verifyDpopProof>[1]> = {}) =>
  verifyDpopProof(proof, { htm: 'POST', htu: HTU, ...expect }, { now: NOW })

describe('verifyDpopProof: accepts', () => {
  it("a proof made by panva's dpop (the client side), returning its key's thumbprint and jti", async () => {
    const pair = await dpopKeyPair('ES256')
    const proof = await generateProof(pair, HTU, 'POST', undefined, 'the-token')
    const got = await verifyDpopProof(proof, { htm: 'POST', htu: HTU, accessToken: 'the-token' })
    expect(got.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(typeof got.jti).toBe('string')
  })

  it('ES256 and EdDSA proofs, with the key thumbprint (RFC 7638)', async () => {
    const ed = await proofKey('EdDSA')
    expect((await verify(await signProof(key, { htm: 'POST', htu: HTU, iat: iat() }))).jkt).toBe(
      key.jkt,
    )
    expect((await verify(await signProof(ed, { htm: 'POST', htu: HTU, iat: iat() }))).jkt).toBe(
      ed.jkt,
    )
  })

  it('iat up to 60 s either way', async () => {
    await verify(await signProof(key, { htm: 'POST', htu: HTU, iat: iat(-60) }))
    await verify(await signProof(key, { htm: 'POST', htu: HTU, iat: iat(60) }))
  })

  it('htu with a query or fragment, and a request URL with one: both are ignored', async () => {
    const proof = await signProof(key, { htm: 'POST', htu: `${HTU}?a=1#f`, iat: iat() })
    await verify(proof, { htu: `${HTU}?b=2` })
  })

  it('ath equal to the presented token hash, and the bound jkt', async () => {
    const proof = await signProof(key, { htm: 'POST', htu: HTU, iat: iat(), accessToken: 'tok' })
    await verify(proof, { accessToken: 'tok', jkt: key.jkt })
    expect(await accessTokenHash('tok')).toBe(await sha256('tok'))
  })
})

/** Each row: a proof that must be refused `dpop_invalid`, and the check the message names. */
const REFUSED: [string, (k: ProofKey) => Promise<string>, RegExp, object?][] = [
  ['htm another method', (k) => signProof(k, { htm: 'GET', htu: HTU, iat: iat() }), /htm/],
  ['htm lower case', (k) => signProof(k, { htm: 'post', htu: HTU, iat: iat() }), /htm/],
  ['htu another path', (k) => signProof(k, { htm: 'POST', htu: `${HTU}/x`, iat: iat() }), /htu/],
  [
    'htu another origin',
    (k) => signProof(k, { htm: 'POST', htu: 'https://evil.example.com/api/things', iat: iat() }),
    /htu/,
  ],
  ['htu not a URL', (k) => signProof(k, { htm: 'POST', htu: 'things', iat: iat() }), /htu/],
  ['iat 61 s old', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(-61) }), /iat/],
  ['iat 61 s ahead', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(61) }), /iat/],
  ['iat missing', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: null }), /iat/],
  [
    'iat a string',
    (k) => signProof(k, { htm: 'POST', htu: HTU, claims: { iat: String(iat()) } }),
    /iat/,
  ],
  ['jti missing', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), jti: null }), /jti/],
  ['jti empty', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), jti: '' }), /jti/],
  [
    'jti a number',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), claims: { jti: 7 } }),
    /jti/,
  ],
  [
    'jti over 256 characters',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), jti: 'j'.repeat(257) }),
    /jti/,
  ],
  [
    'ath missing with a token',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat() }),
    /ath/,
    { accessToken: 'tok' },
  ],
  [
    'ath of another token',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), accessToken: 'other' }),
    /ath/,
    { accessToken: 'tok' },
  ],
  [
    'ath without a token',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), accessToken: 'tok' }),
    /ath/,
  ],
  [
    'alg none',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), alg: 'none' }),
    /alg|proof/,
  ],
  ['alg HS256', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), alg: 'HS256' }), /alg/],
  [
    'a private key in jwk',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), jwk: k.privateJwk }),
    /proof/,
  ],
  ['no jwk', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), jwk: null }), /proof/],
  ['typ missing', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), typ: null }), /typ/],
  ['typ JWT', (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), typ: 'JWT' }), /typ/],
  [
    'signed by another key than its jwk',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), jwk: other.publicJwk }),
    /signature/,
  ],
  [
    'a jwk not matching the bound jkt',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat() }),
    /bound/,
    { jkt: 'A'.repeat(43) },
  ],
  [
    'oversize',
    (k) => signProof(k, { htm: 'POST', htu: HTU, iat: iat(), claims: { pad: 'x'.repeat(2100) } }),
    /too long/,
  ],
  ['empty', async () => '', /no proof/],
  ['not a JWS', async () => 'a.b', /proof/],
]

describe('verifyDpopProof: refuses with dpop_invalid', () => {
  it.each(REFUSED)('%s', async (_, make, reason, expectation) => {
    const proof = await make(key)
    const err = await verify(proof, expectation).catch((e: unknown) => e)
    expect(err).toMatchObject({ name: 'AppError', code: 'dpop_invalid' })
    expect((err as Error).message).toMatch(reason)
    if (proof.length > 20) expect((err as Error).message).not.toContain(proof.slice(0, 20))
  })

  it('alg RS256 (an RSA key the policy does not allow)', async () => {
    const { generateKeyPair, exportJWK, SignJWT } = await import('jose')
    const rsa = await generateKeyPair('RS256', { extractable: true })
    const proof = await new SignJWT({ htm: 'POST', htu: HTU, iat: iat(), jti: 'r' })
      .setProtectedHeader({ alg: 'RS256', typ: 'dpop+jwt', jwk: await exportJWK(rsa.publicKey) })
      .sign(rsa.privateKey)
    await expect(verify(proof)).rejects.toMatchObject({ code: 'dpop_invalid', message: /alg/ })
  })

  it('a signature byte flipped', async () => {
    const proof = await signProof(key, { htm: 'POST', htu: HTU, iat: iat() })
    const [h, p, s] = proof.split('.')
    const flipped = `${h}.${p}.${s!.startsWith('A') ? 'B' : 'A'}${s!.slice(1)}`
    await expect(verify(flipped)).rejects.toMatchObject({ code: 'dpop_invalid' })
  })
})

describe('verifyDpopProof: server nonces', () => {
  const accept = (n: string | undefined) => n === 'good-nonce'

  it('accepts the nonce the server hands out', async () => {
    const proof = await signProof(key, { htm: 'POST', htu: HTU, iat: iat(), nonce: 'good-nonce' })
    await verify(proof, { acceptNonce: accept })
  })

  it.each([
    ['no nonce', undefined, 'no nonce'],
    ['a stale nonce', 'old-nonce', 'stale nonce'],
  ])('refuses %s with dpop_nonce_required', async (_, nonce, message) => {
    const proof = await signProof(key, {
      htm: 'POST',
      htu: HTU,
      iat: iat(),
      ...(nonce && { nonce }),
    })
    await expect(verify(proof, { acceptNonce: accept })).rejects.toMatchObject({
      code: 'dpop_nonce_required',
      message,
    })
  })

  it('a nonce that is not a string is dpop_invalid', async () => {
    const proof = await signProof(key, { htm: 'POST', htu: HTU, iat: iat(), claims: { nonce: 5 } })
    await expect(verify(proof, { acceptNonce: accept })).rejects.toMatchObject({
      code: 'dpop_invalid',
    })
  })
})
