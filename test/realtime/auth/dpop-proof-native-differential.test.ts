/**
 * The realtime node's node:crypto proof check (realtime/auth/dpop-proof-native.ts)
 * against the reference, shared/dpop's jose-based `verifyDpopProof`, on a
 * table of mutated proofs: for each, both accept with the same `jkt` and
 * `jti`, or both refuse with the same code.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { describe, expect, it } from 'vitest'
import { verifyDpopProofNative } from '../../../realtime/auth/dpop-proof-native.ts'
import { verifyDpopProof, type DpopProofExpectation } from '../../../shared/dpop/index.ts'
import { isAppError } from '../../../shared/errors.ts'

const NOW_MS = 1_800_000_000_000
const NOW = NOW_MS / 1000
const HTU = 'https://rt.example.com/socket.io/'
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'
const ATH = createHash('sha256').update(TOKEN).digest('base64url')
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

interface TestKey {
  alg: 'ES256' | 'EdDSA'
  privateKey: KeyObject
  jwk: JWK
  privateJwk: JWK
}

function key(alg: TestKey['alg']): TestKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519')
  const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK
  return {
    alg,
    privateKey: pair.privateKey,
    jwk,
    privateJwk: pair.privateKey.export({ format: 'jwk' }) as JWK,
  }
}

/** Sign `header`.`payload` with `k` (whatever the header says), as raw JSON or text segments. */
function signed(k: TestKey, header: unknown, payload: unknown): string {
  const input = `${b64(header)}.${b64(payload)}`
  const signature =
    k.alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key: k.privateKey, dsaEncoding: 'ieee-p1363' })
      : sign(null, Buffer.from(input), k.privateKey)
  return `${input}.${signature.toString('base64url')}`
}

type Case = [
  name: string,
  make: (k: TestKey, other: TestKey) => string,
  expect?: Partial<DpopProofExpectation>,
]

function good(
  k: TestKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
) {
  const h: Record<string, unknown> = { typ: 'dpop+jwt', alg: k.alg, jwk: k.jwk, ...header }
  const p: Record<string, unknown> = {
    htm: 'GET',
    htu: HTU,
    iat: NOW,
    jti: 'j-1',
    ath: ATH,
    ...claims,
  }
  for (const o of [h, p])
    for (const [name, v] of Object.entries(o)) if (v === undefined) delete o[name]
  return signed(k, h, p)
}

const flip = (proof: string, at: number) => {
  const chars = [...proof]
  const i = at < 0 ? chars.length + at : at
  chars[i] = chars[i] === 'A' ? 'B' : 'A'
  return chars.join('')
}

const CASES: Case[] = [
  ['a good proof', (k) => good(k)],
  ['typ in capitals', (k) => good(k, {}, { typ: 'DPOP+JWT' })],
  ['typ with application/', (k) => good(k, {}, { typ: 'application/dpop+jwt' })],
  ['typ JWT', (k) => good(k, {}, { typ: 'JWT' })],
  ['no typ', (k) => good(k, {}, { typ: undefined })],
  ['typ a number', (k) => good(k, {}, { typ: 1 })],
  [
    'alg none, unsigned',
    (k) =>
      `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: k.jwk })}.${b64({ htm: 'GET', htu: HTU, iat: NOW, jti: 'n', ath: ATH })}.`,
  ],
  ['alg HS256', (k) => good(k, {}, { alg: 'HS256' })],
  ['alg RS256', (k) => good(k, {}, { alg: 'RS256' })],
  ['alg ES384', (k) => good(k, {}, { alg: 'ES384' })],
  ['alg of the other key type', (k) => good(k, {}, { alg: k.alg === 'ES256' ? 'EdDSA' : 'ES256' })],
  ['no alg', (k) => good(k, {}, { alg: undefined })],
  ['a private key in jwk', (k) => good(k, {}, { jwk: k.privateJwk })],
  ['no jwk', (k) => good(k, {}, { jwk: undefined })],
  ['jwk an array', (k) => good(k, {}, { jwk: [k.jwk] })],
  ['jwk a string', (k) => good(k, {}, { jwk: 'key' })],
  [
    'jwk of another curve',
    (k) => good(k, {}, { jwk: { ...k.jwk, crv: k.alg === 'ES256' ? 'P-384' : 'Ed448' } }),
  ],
  ['jwk with key_ops sign', (k) => good(k, {}, { jwk: { ...k.jwk, key_ops: ['sign'] } })],
  ['jwk with key_ops verify', (k) => good(k, {}, { jwk: { ...k.jwk, key_ops: ['verify'] } })],
  [
    'jwk with alg, use and kid',
    (k) => good(k, {}, { jwk: { ...k.jwk, alg: k.alg, use: 'sig', kid: 'x' } }),
  ],
  ['jwk with a broken x', (k) => good(k, {}, { jwk: { ...k.jwk, x: 'AAAA' } })],
  ["another key's jwk", (k, other) => good(k, {}, { jwk: other.jwk })],
  ['crit b64', (k) => good(k, {}, { crit: ['b64'], b64: false })],
  ['crit of an unknown header', (k) => good(k, {}, { crit: ['foo'], foo: 1 })],
  ['an extra kid header', (k) => good(k, {}, { kid: 'k1' })],
  ['htm POST', (k) => good(k, { htm: 'POST' })],
  ['htm lower case', (k) => good(k, { htm: 'get' })],
  ['no htm', (k) => good(k, { htm: undefined })],
  ['htu another origin', (k) => good(k, { htu: 'https://evil.example.com/socket.io/' })],
  ['htu another path', (k) => good(k, { htu: 'https://rt.example.com/socket.io' })],
  ['htu with a query and fragment', (k) => good(k, { htu: `${HTU}?EIO=4#x` })],
  ['htu with the default port', (k) => good(k, { htu: 'https://rt.example.com:443/socket.io/' })],
  ['htu not a URL', (k) => good(k, { htu: 'not a url' })],
  ['htu a number', (k) => good(k, { htu: 1 })],
  ['iat 61 s old', (k) => good(k, { iat: NOW - 61 })],
  ['iat 59 s old', (k) => good(k, { iat: NOW - 59 })],
  ['iat 61 s ahead', (k) => good(k, { iat: NOW + 61 })],
  ['iat a string', (k) => good(k, { iat: String(NOW) })],
  ['no iat', (k) => good(k, { iat: undefined })],
  ['jti missing', (k) => good(k, { jti: undefined })],
  ['jti empty', (k) => good(k, { jti: '' })],
  ['jti 257 characters', (k) => good(k, { jti: 'j'.repeat(257) })],
  ['jti a number', (k) => good(k, { jti: 7 })],
  ['ath missing', (k) => good(k, { ath: undefined })],
  [
    'ath of another token',
    (k) => good(k, { ath: createHash('sha256').update('other').digest('base64url') }),
  ],
  ['ath without a token expected', (k) => good(k), { accessToken: undefined }],
  ['no ath and no token expected', (k) => good(k, { ath: undefined }), { accessToken: undefined }],
  ['exp in the past', (k) => good(k, { exp: NOW - 1 })],
  ['exp a string', (k) => good(k, { exp: 'soon' })],
  ['nbf in the future', (k) => good(k, { nbf: NOW + 10 })],
  ['a bound key that is not the proof key', (k) => good(k), { jkt: 'A'.repeat(43) }],
  ['nonce expected, none sent', (k) => good(k), { acceptNonce: (n) => n === 'n-1' }],
  [
    'nonce expected, the right one',
    (k) => good(k, { nonce: 'n-1' }),
    { acceptNonce: (n) => n === 'n-1' },
  ],
  [
    'nonce expected, a stale one',
    (k) => good(k, { nonce: 'n-0' }),
    { acceptNonce: (n) => n === 'n-1' },
  ],
  ['nonce a number', (k) => good(k, { nonce: 1 }), { acceptNonce: () => true }],
  [
    'nonce stale and the key wrong',
    (k) => good(k),
    { acceptNonce: () => false, jkt: 'A'.repeat(43) },
  ],
  ['nonce not asked for, sent anyway', (k) => good(k, { nonce: 'x' })],
  ['a flipped signature character', (k) => flip(good(k), -5)],
  ['a flipped payload character', (k) => flip(good(k), good(k).indexOf('.') + 5)],
  ['a truncated signature', (k) => good(k).slice(0, -10)],
  ['no signature', (k) => good(k).split('.').slice(0, 2).join('.') + '.'],
  ['two segments', (k) => good(k).split('.').slice(0, 2).join('.')],
  ['four segments', (k) => `${good(k)}.x`],
  [
    'a payload that is an array',
    (k) => signed(k, { typ: 'dpop+jwt', alg: k.alg, jwk: k.jwk }, [1]),
  ],
  [
    'a payload that is not JSON',
    (k) => signed(k, { typ: 'dpop+jwt', alg: k.alg, jwk: k.jwk }, 'not json'),
  ],
  ['a header that is not JSON', (k) => `${b64('{')}.${b64({ htm: 'GET' })}.c2ln`],
  ['empty', () => ''],
  ['over 2 KiB', (k) => good(k, { pad: 'x'.repeat(2100) })],
]

type Verdict = { ok: true; jkt: string; jti: string } | { ok: false; code: string }

async function verdict(
  run: () => Promise<{ jkt: string; jti: string }> | { jkt: string; jti: string },
): Promise<Verdict> {
  try {
    const { jkt, jti } = await run()
    return { ok: true, jkt, jti }
  } catch (err) {
    if (!isAppError(err)) throw err
    return { ok: false, code: err.code }
  }
}

describe.each(['ES256', 'EdDSA'] as const)('verifyDpopProofNative against jose (%s)', (alg) => {
  const k = key(alg)
  const other = key(alg)
  it.each(CASES)('%s: the same verdict', async (_, make, overrides = {}) => {
    const proof = make(k, other)
    const expectation: DpopProofExpectation = {
      htm: 'GET',
      htu: HTU,
      accessToken: TOKEN,
      ...overrides,
    }
    if ('accessToken' in overrides && overrides.accessToken === undefined)
      delete expectation.accessToken
    const reference = await verdict(() => verifyDpopProof(proof, expectation, { now: NOW_MS }))
    const native = await verdict(() =>
      verifyDpopProofNative(proof, { ...expectation, htu: new URL(HTU) }, { now: NOW_MS }),
    )
    expect(native).toEqual(reference)
  })

  it('accepts the good proof with the key thumbprint jose computes (the check can pass)', async () => {
    const result = verifyDpopProofNative(
      good(k),
      { htm: 'GET', htu: new URL(HTU), accessToken: TOKEN },
      { now: NOW_MS },
    )
    expect(result.jkt).toBe(await calculateJwkThumbprint(k.jwk, 'sha256'))
    expect(result.jti).toBe('j-1')
  })
})
