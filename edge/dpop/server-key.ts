import { base64url } from 'jose'

const encoder = new TextEncoder()
const keys = new Map<string, Promise<CryptoKey>>()

/**
 * The edge's DPoP HMAC key: derived with HKDF-SHA-256 from `KEY_ENCRYPTION_KEY`
 * (info `edgegate dpop`), so nonces and replay shards need no secret of their
 * own and no storage, and every isolate derives the same key. Domain
 * separation keeps it from ever equalling the key-encryption key.
 *
 * @param secret - the `KEY_ENCRYPTION_KEY` binding
 * @throws Error naming the problem (never the value) when unset or malformed
 */
export function dpopServerKey(secret: string | undefined): Promise<CryptoKey> {
  if (!secret) return Promise.reject(new Error('KEY_ENCRYPTION_KEY is not configured'))
  let hit = keys.get(secret)
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
        {
          name: 'HKDF',
          hash: 'SHA-256',
          salt: new Uint8Array(0),
          info: encoder.encode('edgegate dpop'),
        },
        ikm,
        { name: 'HMAC', hash: 'SHA-256', length: 256 },
        false,
        ['sign'],
      )
    })()
    hit.catch(() => keys.delete(secret))
    keys.set(secret, hit)
  }
  return hit
}

/**
 * HMAC-SHA-256 of `label` under the DPoP server key.
 *
 * @param key - from {@link dpopServerKey}
 * @param label - a domain-separated message, e.g. `nonce:29123456`
 */
export async function dpopMac(key: CryptoKey, label: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(label)))
}
