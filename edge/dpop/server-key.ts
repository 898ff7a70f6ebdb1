import { derivedHmacKey } from '../keys/derived-hmac-key.ts'

const encoder = new TextEncoder()

/**
 * The edge's DPoP HMAC key: derived from `KEY_ENCRYPTION_KEY` under the label
 * `edgegate dpop`, so nonces and replay shards need no secret of their own
 * and no storage, and every isolate derives the same key.
 *
 * @param secret - the `KEY_ENCRYPTION_KEY` binding
 * @throws Error naming the problem (never the value) when unset or malformed
 */
export function dpopServerKey(secret: string | undefined): Promise<CryptoKey> {
  return derivedHmacKey(secret, 'edgegate dpop')
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
