import {
  constants,
  createPublicKey,
  verify,
  type JsonWebKey,
  type KeyObject,
  type VerifyKeyObjectInput,
  type VerifyPublicKeyInput,
} from 'node:crypto'
import type { KeySetAlgorithm } from '../../shared/jwks/algorithms.ts'

/** A public key imported for node:crypto, with the parameters of its one `alg`. */
export interface NativeKey {
  alg: KeySetAlgorithm
  /** The digest `crypto.verify` takes (null for EdDSA, which hashes internally). */
  digest: string | null
  input: VerifyKeyObjectInput & Pick<VerifyPublicKeyInput, 'dsaEncoding' | 'padding' | 'saltLength'>
}

/** Digest and padding per alg (RFC 7518 §3; RFC 8037 for EdDSA). */
const PARAMETERS: Record<
  KeySetAlgorithm,
  { digest: string | null } & Pick<VerifyPublicKeyInput, 'dsaEncoding' | 'padding' | 'saltLength'>
> = {
  // JWS carries ECDSA signatures as r || s, not DER.
  ES256: { digest: 'sha256', dsaEncoding: 'ieee-p1363' },
  ES384: { digest: 'sha384', dsaEncoding: 'ieee-p1363' },
  EdDSA: { digest: null },
  RS256: { digest: 'sha256', padding: constants.RSA_PKCS1_PADDING },
  // RFC 7518 §3.5: the salt is as long as the hash.
  PS256: { digest: 'sha256', padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
}

/** Key types each alg needs; the key set's JWK schema already binds them, this is the last word. */
const KEY_TYPES: Record<KeySetAlgorithm, (key: KeyObject) => boolean> = {
  ES256: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1',
  ES384: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'secp384r1',
  EdDSA: (k) => k.asymmetricKeyType === 'ed25519',
  RS256: (k) =>
    k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048,
  PS256: (k) =>
    k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048,
}

/**
 * Import a public JWK once, for {@link verifyNative}. Used as the key set's
 * `importNative`, so the import happens when the key set loads.
 *
 * @param jwk - public parameters only
 * @param alg - the key's `alg`
 * @throws TypeError when the key does not suit `alg` (the key set then skips it)
 * @example
 * ```ts
 * createKeySet({ jwksUrl, issuer, importNative: importNativeKey })
 * ```
 */
export function importNativeKey(jwk: object, alg: KeySetAlgorithm): NativeKey {
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  if (!KEY_TYPES[alg](key)) throw new TypeError(`key does not suit ${alg}`)
  const { digest, ...params } = PARAMETERS[alg]
  return { alg, digest, input: { key, ...params } }
}

/**
 * Check a JWS signature synchronously with node:crypto.
 *
 * @param key - from {@link importNativeKey}
 * @param data - the ASCII signing input `header.payload`
 * @param signature - the decoded signature segment
 * @returns whether `signature` is `key`'s over `data`; false for a signature of the wrong shape
 * @example
 * ```ts
 * if (!verifyNative(held.native, jws.signingInput, jws.signature)) throw new AppError('token_invalid', 'signature')
 * ```
 */
export function verifyNative(key: NativeKey, data: Buffer, signature: Buffer): boolean {
  try {
    return verify(key.digest, data, key.input, signature)
  } catch {
    // OpenSSL throws on some malformed signatures (wrong length); they are simply not valid.
    return false
  }
}
