import { base64url } from 'jose'

const encoder = new TextEncoder()

/**
 * `ath` of a DPoP proof (RFC 9449 §4.2): base64url(SHA-256(ASCII(token))).
 *
 * @param token - the access token the proof accompanies
 * @example
 * ```ts
 * const ath = await accessTokenHash(accessToken)
 * ```
 */
export async function accessTokenHash(token: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(token))
  return base64url.encode(new Uint8Array(digest))
}
