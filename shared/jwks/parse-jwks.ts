import debug from 'debug'
import { base64url, importJWK, type JWK } from 'jose'
import * as v from 'valibot'
import { AppError } from '../errors.ts'
import type { KeySetAlgorithm } from './algorithms.ts'

const log = debug('edgegate:jwks')

/** Smallest accepted RSA modulus, in bits (docs/protocol.md §4). */
const RSA_MIN_MODULUS_BITS = 2048
/** JWK members that only private or symmetric keys have. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

/** A verification key held by the key set. */
export interface HeldKey {
  alg: KeySetAlgorithm
  fingerprint: string
  /** The WebCrypto key, for jose. */
  key: CryptoKey
  /** What {@link ParseKeySetOptions.importNative} made of the public JWK, imported once per key. */
  native?: unknown
}

/** Options of {@link parseKeySet}. */
export interface ParseKeySetOptions {
  /** Keys whose `alg` is not listed are skipped. */
  algorithms: readonly KeySetAlgorithm[]
  /** Also import each key for a runtime's own crypto (realtime: a node:crypto KeyObject). A throw skips the key. */
  importNative?: (jwk: JWK, alg: KeySetAlgorithm) => unknown
}

const B64U = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]+$/))
const Common = {
  kid: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  use: v.optional(v.literal('sig')),
  key_ops: v.optional(
    v.pipe(
      v.array(v.string()),
      v.check((ops) => ops.includes('verify')),
    ),
  ),
}
const RsaMembers = {
  kty: v.literal('RSA'),
  n: v.pipe(
    B64U,
    v.check((n) => modulusBits(n) >= RSA_MIN_MODULUS_BITS),
  ),
  e: B64U,
}
const PublicJwkSchema = v.variant('alg', [
  v.object({
    ...Common,
    alg: v.literal('ES256'),
    kty: v.literal('EC'),
    crv: v.literal('P-256'),
    x: B64U,
    y: B64U,
  }),
  v.object({
    ...Common,
    alg: v.literal('ES384'),
    kty: v.literal('EC'),
    crv: v.literal('P-384'),
    x: B64U,
    y: B64U,
  }),
  v.object({
    ...Common,
    alg: v.literal('EdDSA'),
    kty: v.literal('OKP'),
    crv: v.literal('Ed25519'),
    x: B64U,
  }),
  v.object({ ...Common, alg: v.literal('RS256'), ...RsaMembers }),
  v.object({ ...Common, alg: v.literal('PS256'), ...RsaMembers }),
])
const JwksSchema = v.object({ keys: v.array(v.unknown()) })

/**
 * Parse a JWKS body into imported keys, skipping unusable ones and reusing
 * the CryptoKey of an unchanged kid. Throws when no key is usable.
 */
export async function parseKeySet(
  body: string,
  previous: Map<string, HeldKey> | undefined,
  options: ParseKeySetOptions,
): Promise<Map<string, HeldKey>> {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch (err) {
    throw new AppError('unavailable', 'JWKS response is not JSON', { cause: err })
  }
  const set = v.safeParse(JwksSchema, json)
  if (!set.success) throw new AppError('unavailable', 'JWKS response is not a key set')
  const candidates = new Map<string, v.InferOutput<typeof PublicJwkSchema> | null>()
  for (const raw of set.output.keys) {
    if (
      typeof raw !== 'object' ||
      raw === null ||
      PRIVATE_MEMBERS.some((m) => Object.hasOwn(raw, m))
    )
      continue
    const jwk = v.safeParse(PublicJwkSchema, raw)
    if (!jwk.success || !options.algorithms.includes(jwk.output.alg)) continue
    // The same kid twice is ambiguous: use neither.
    candidates.set(jwk.output.kid, candidates.has(jwk.output.kid) ? null : jwk.output)
  }
  const keys = new Map<string, HeldKey>()
  await Promise.all(
    [...candidates].map(async ([kid, jwk]) => {
      if (!jwk) return
      const { kty, alg } = jwk
      const pub: JWK =
        jwk.kty === 'RSA'
          ? { kty, n: jwk.n, e: jwk.e }
          : { kty, crv: jwk.crv, x: jwk.x, ...('y' in jwk && { y: jwk.y }) }
      const fingerprint = JSON.stringify([alg, pub])
      const old = previous?.get(kid)
      if (old?.fingerprint === fingerprint) {
        keys.set(kid, old)
        return
      }
      try {
        const key = await importJWK(pub, alg)
        const native = options.importNative?.(pub, alg)
        if (key instanceof CryptoKey)
          keys.set(kid, { alg, fingerprint, key, ...(native !== undefined && { native }) })
      } catch (err) {
        log('skipping JWKS key that does not import: %s', (err as Error).message)
      }
    }),
  )
  if (keys.size === 0) throw new AppError('unavailable', 'JWKS has no usable keys')
  return keys
}

/** Bit length of a base64url big-endian unsigned integer. */
function modulusBits(n: string): number {
  const bytes = base64url.decode(n)
  let i = 0
  while (i < bytes.length && bytes[i] === 0) i++
  const first = bytes[i]
  return first === undefined ? 0 : (bytes.length - i - 1) * 8 + (32 - Math.clz32(first))
}
