import {
  base64url,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose'
import type { SigningAlgorithm } from '../../shared/constants.ts'

/** A new key pair: the public JWK to publish and the private JWK encrypted at rest. */
export interface GeneratedKey {
  kid: string
  alg: SigningAlgorithm
  publicJwk: JWK
  /** base64url(iv ‖ AES-GCM ciphertext of the private JWK), bound to `kid` as AAD. */
  privateEnc: string
}

const PUBLIC_MEMBERS = ['kty', 'crv', 'x', 'y', 'n', 'e'] as const

/**
 * Generate a signing key pair inside the edge. The `kid` is the RFC 7638
 * thumbprint, so it names the key material itself.
 *
 * @param alg - the signing algorithm
 * @param kek - the key-encryption key (from {@link importKek})
 */
export async function generateSigningKey(
  alg: SigningAlgorithm,
  kek: CryptoKey,
): Promise<GeneratedKey> {
  const pair = await generateKeyPair(alg, {
    extractable: true,
    modulusLength: 2048,
    crv: alg === 'EdDSA' ? 'Ed25519' : undefined,
  })
  const privateJwk = await exportJWK(pair.privateKey)
  const full = await exportJWK(pair.publicKey)
  const publicJwk: JWK = {}
  for (const m of PUBLIC_MEMBERS) if (full[m] !== undefined) publicJwk[m] = full[m]
  const kid = await calculateJwkThumbprint(publicJwk, 'sha256')
  Object.assign(publicJwk, { kid, alg, use: 'sig' })
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const plaintext = new TextEncoder().encode(JSON.stringify(privateJwk))
  const ct = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(kid) },
      kek,
      plaintext,
    ),
  )
  const blob = new Uint8Array(iv.length + ct.length)
  blob.set(iv)
  blob.set(ct, iv.length)
  return { kid, alg, publicJwk, privateEnc: base64url.encode(blob) }
}

/**
 * Decrypt a stored private key and import it as a non-extractable CryptoKey:
 * once imported, not even this code can read the key material back out.
 *
 * @param stored - `kid`, `alg` and `privateEnc` as stored
 * @param kek - the key-encryption key
 * @throws Error when the ciphertext does not authenticate (wrong KEK, tampered row)
 */
export async function importSigningKey(
  stored: { kid: string; alg: SigningAlgorithm; privateEnc: string },
  kek: CryptoKey,
): Promise<CryptoKey> {
  const blob = base64url.decode(stored.privateEnc)
  const plaintext = await crypto.subtle.decrypt(
    {
      name: 'AES-GCM',
      iv: blob.subarray(0, 12),
      additionalData: new TextEncoder().encode(stored.kid),
    },
    kek,
    blob.subarray(12),
  )
  const jwk = JSON.parse(new TextDecoder().decode(plaintext)) as JWK
  const key = await importJWK(jwk, stored.alg, { extractable: false })
  if (!(key instanceof CryptoKey)) throw new Error('signing key did not import as a CryptoKey')
  return key
}

const keks = new Map<string, Promise<CryptoKey>>()

/**
 * Import the key-encryption key from its secret: base64url of 32 random bytes
 * (`openssl rand -base64 32 | tr '+/' '-_' | tr -d =`).
 *
 * @param secret - the `KEY_ENCRYPTION_KEY` binding
 * @throws Error naming the problem (never the value) when unset or malformed
 */
export function importKek(secret: string | undefined): Promise<CryptoKey> {
  if (!secret) return Promise.reject(new Error('KEY_ENCRYPTION_KEY is not configured'))
  let hit = keks.get(secret)
  if (!hit) {
    hit = (async () => {
      let raw: Uint8Array
      try {
        raw = base64url.decode(secret.trim())
      } catch {
        throw new Error('KEY_ENCRYPTION_KEY is not base64url')
      }
      if (raw.length !== 32) throw new Error('KEY_ENCRYPTION_KEY must be 32 bytes')
      return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt'])
    })()
    hit.catch(() => keks.delete(secret))
    keks.set(secret, hit)
  }
  return hit
}
