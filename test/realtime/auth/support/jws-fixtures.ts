/**
 * Keys, signers and a seeded PRNG for the native-verifier tests: real keys of
 * every key-set algorithm, signed with node:crypto so a test can put any
 * header or payload bytes under a valid signature.
 */
import {
  constants,
  createHmac,
  generateKeyPairSync,
  sign,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import type { KeySetAlgorithm } from '../../../../shared/jwks/algorithms.ts'

/** A signing key of the test issuer (or of an attacker). */
export interface FixtureKey {
  alg: KeySetAlgorithm
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
  /** Public JWK with kid, alg, use. */
  jwk: JsonWebKey & { kid: string; alg: string; use: 'sig' }
}

const SIGN: Record<KeySetAlgorithm, { digest: string | null; opts: object }> = {
  ES256: { digest: 'sha256', opts: { dsaEncoding: 'ieee-p1363' } },
  ES384: { digest: 'sha384', opts: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { digest: null, opts: {} },
  RS256: { digest: 'sha256', opts: { padding: constants.RSA_PKCS1_PADDING } },
  PS256: {
    digest: 'sha256',
    opts: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
  },
}

/** A fresh key pair for `alg` under `kid`. */
export function fixtureKey(alg: KeySetAlgorithm, kid: string): FixtureKey {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    alg,
    kid,
    ...pair,
    jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  }
}

/** base64url without padding. */
export const b64u = (data: string | Uint8Array): string => Buffer.from(data).toString('base64url')

/** Sign `header.payload` (raw JSON text or bytes, encoded here) with `key` under `key.alg`. */
export function signRaw(
  key: FixtureKey,
  headerJson: string | Uint8Array,
  payloadJson: string | Uint8Array,
): string {
  const input = `${b64u(headerJson)}.${b64u(payloadJson)}`
  const { digest, opts } = SIGN[key.alg]
  const signature = sign(digest, Buffer.from(input), { key: key.privateKey, ...opts })
  return `${input}.${b64u(signature)}`
}

/** An HS256 token keyed with bytes of `key`'s public key: the alg-confusion attack. */
export function hmacWithPublicKey(
  key: FixtureKey,
  header: object,
  payloadJson: string,
  form: 'pem' | 'jwk',
): string {
  const secret =
    form === 'pem'
      ? (key.publicKey.export({ format: 'pem', type: 'spki' }) as string)
      : JSON.stringify(key.jwk)
  const input = `${b64u(JSON.stringify(header))}.${b64u(payloadJson)}`
  return `${input}.${b64u(createHmac('sha256', secret).update(input).digest())}`
}

/** A seeded deterministic PRNG (mulberry32). */
export function prng(seed: number) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return { next, int, pick: <T>(items: readonly T[]): T => items[int(items.length)]! }
}

/** The PRNG of {@link prng}. */
export type Prng = ReturnType<typeof prng>

/**
 * A valid access token of `issuer` signed by `key` at `nowSeconds`, living
 * 60 s, with `claims` over the defaults.
 */
export function mintAccessToken(
  key: FixtureKey,
  issuer: string,
  nowSeconds: number,
  claims: Record<string, unknown> = {},
): string {
  return signRaw(
    key,
    JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid }),
    JSON.stringify({
      iss: issuer,
      aud: 'realtime',
      sub: 'u-1',
      sid: 's-1',
      jti: `j-${Math.random().toString(36).slice(2)}`,
      name: 'alice',
      iat: nowSeconds,
      nbf: nowSeconds,
      exp: nowSeconds + 60,
      scope: 'chat:read chat:write',
      rooms: ['lobby'],
      ...claims,
    }),
  )
}
