import { createHmac } from 'node:crypto'
import { DPOP_NONCE_SECRET_MIN_CHARS, DPOP_NONCE_WINDOW_SECONDS } from '../constants.ts'

/** Options of {@link createDpopNonces}. */
export interface DpopNonceOptions {
  /** The HMAC key: every node of a cluster must share it, so a nonce from one is good on another. */
  secret: string
  /** How long each nonce is handed out, seconds. @default 300 */
  windowSeconds?: number
  /** ms clock. @default Date.now */
  now?: () => number
}

/** A node's DPoP nonces (docs/protocol.md §15): the one it hands out now, and which it accepts. */
export interface DpopNonces {
  /** The nonce to send with `dpop_nonce_required`. */
  current(): string
  /** Whether `nonce` is this window's or the previous one's. */
  accepts(nonce: string | undefined): boolean
}

/**
 * Stateless rotating nonces: the nonce of window `w` (`floor(now / window)`)
 * is base64url(HMAC-SHA256(secret, w)). Nothing is stored per client; the
 * current and previous window's values are computed once per window. A
 * proof made just before a rotation still passes, one older than two
 * windows never does.
 *
 * @param options - {@link DpopNonceOptions}
 * @throws TypeError when the secret is shorter than 32 characters
 * @example
 * ```ts
 * const nonces = createDpopNonces({ secret: process.env.REALTIME_DPOP_NONCE! })
 * verifyDpopProof(proof, { ...expect, acceptNonce: nonces.accepts })
 * ```
 */
export function createDpopNonces(options: DpopNonceOptions): DpopNonces {
  if (typeof options.secret !== 'string' || options.secret.length < DPOP_NONCE_SECRET_MIN_CHARS)
    throw new TypeError(
      `createDpopNonces: the secret must have at least ${DPOP_NONCE_SECRET_MIN_CHARS} characters`,
    )
  const windowMs = (options.windowSeconds ?? DPOP_NONCE_WINDOW_SECONDS) * 1000
  if (!(windowMs > 0)) throw new TypeError('createDpopNonces: windowSeconds must be positive')
  const now = options.now ?? Date.now
  const { secret } = options
  const of = (window: number) =>
    createHmac('sha256', secret).update(`edgegate-dpop-nonce:${window}`).digest('base64url')
  let window = NaN
  let current = ''
  let previous = ''
  const roll = () => {
    const w = Math.floor(now() / windowMs)
    if (w === window) return
    previous = w === window + 1 ? current : of(w - 1)
    current = of(w)
    window = w
  }
  return {
    current() {
      roll()
      return current
    },
    accepts(nonce) {
      if (nonce === undefined) return false
      roll()
      return nonce === current || nonce === previous
    },
  }
}
