import { base64url } from 'jose'
import { CLIENT_SECRET_BYTES } from '../constants.ts'

/**
 * A new client secret: {@link CLIENT_SECRET_BYTES} random bytes (256 bits,
 * docs/protocol.md §8), base64url. Shown once, at creation, and never stored.
 *
 * @example
 * ```ts
 * const secret = newClientSecret() // 43 base64url characters
 * ```
 */
export function newClientSecret(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(CLIENT_SECRET_BYTES)))
}

/**
 * The stored form of a client secret: base64url SHA-256.
 *
 * A fast hash is right here, unlike for passwords: the secret is 256 random
 * bits, not something a person chose, so there is no dictionary to try and
 * a stolen hash cannot be reversed by guessing; a slow hash would only slow
 * every token request. It runs on WebCrypto, so `npm start` (Node) can seed
 * the demo client with the same function the worker checks with.
 *
 * @param secret - the client secret as presented
 * @example
 * ```ts
 * const stored = await hashClientSecret(newClientSecret())
 * ```
 */
export async function hashClientSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(secret))
  return base64url.encode(new Uint8Array(digest))
}
