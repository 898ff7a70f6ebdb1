import { base64url } from 'jose'
import { DPOP_NONCE_WINDOW_SECONDS } from '../constants.ts'
import { dpopMac } from './server-key.ts'

/** The nonces a proof may carry now (RFC 9449 §8). */
export interface DpopNonces {
  /** The nonce to hand out: this window's. */
  current: string
  /** Last window's, still accepted so a nonce handed out just before a window turns keeps working. */
  previous: string
}

/**
 * The server nonces of the window holding `now`: base64url(HMAC(key, window)),
 * where a window is {@link DPOP_NONCE_WINDOW_SECONDS} long. Stateless and the same
 * in every isolate: a nonce is accepted in its window and the next, so it lives
 * 60–120 s, and a client cannot compute the next one.
 *
 * @param key - the DPoP server key (`dpopServerKey`)
 * @param nowSeconds - Unix seconds
 * @example
 * ```ts
 * const { current, previous } = await dpopNonces(key, now)
 * const accept = (n?: string) => n === current || n === previous
 * ```
 */
export async function dpopNonces(key: CryptoKey, nowSeconds: number): Promise<DpopNonces> {
  const window = Math.floor(nowSeconds / DPOP_NONCE_WINDOW_SECONDS)
  const [current, previous] = await Promise.all([
    dpopMac(key, `nonce:${window}`),
    dpopMac(key, `nonce:${window - 1}`),
  ])
  return { current: base64url.encode(current), previous: base64url.encode(previous) }
}
