import { base64url } from 'jose'

const encoder = new TextEncoder()
const keys = new Map<string, Promise<CryptoKey>>()

/**
 * An HMAC-SHA-256 key derived with HKDF-SHA-256 from `KEY_ENCRYPTION_KEY`
 * under a label of its own: the edge's DPoP nonces and replay shards, and
 * federated login's flow cookies, each need a server key, and deriving them
 * means no second secret to manage and the same key in every isolate. The
 * label keeps each apart from the others and from the key-encryption key.
 * Derived once per isolate and label.
 *
 * @param secret - the `KEY_ENCRYPTION_KEY` binding
 * @param label - HKDF `info`, e.g. `edgegate dpop`
 * @throws Error naming the problem (never the value) when unset or malformed
 * @example
 * ```ts
 * const key = await derivedHmacKey(env.KEY_ENCRYPTION_KEY, 'edgegate dpop')
 * ```
 */
export function derivedHmacKey(secret: string | undefined, label: string): Promise<CryptoKey> {
  if (!secret) return Promise.reject(new Error('KEY_ENCRYPTION_KEY is not configured'))
  const id = `${label}\u0000${secret}`
  let hit = keys.get(id)
  if (!hit) {
    hit = (async () => {
      const ikm = await crypto.subtle.importKey(
        'raw',
        base64url.decode(secret.trim()),
        'HKDF',
        false,
        ['deriveKey'],
      )
      return crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(label) },
        ikm,
        { name: 'HMAC', hash: 'SHA-256', length: 256 },
        false,
        ['sign', 'verify'],
      )
    })()
    hit.catch(() => keys.delete(id))
    keys.set(id, hit)
  }
  return hit
}
