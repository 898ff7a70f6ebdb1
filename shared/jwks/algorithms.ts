/**
 * The JWS algorithms a key set may hold (docs/protocol.md §4, §12): the edge
 * signs with ES256, EdDSA or RS256; another issuer may also use ES384 or
 * PS256. Never `none` and never an HMAC: the keys are public.
 */
export const KEY_SET_ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] as const

/** One of {@link KEY_SET_ALGORITHMS}. */
export type KeySetAlgorithm = (typeof KEY_SET_ALGORITHMS)[number]

/**
 * Whether `alg` is one of {@link KEY_SET_ALGORITHMS}.
 *
 * @param alg - a header or JWK `alg`
 * @example
 * ```ts
 * isKeySetAlgorithm('HS256') // false
 * ```
 */
export function isKeySetAlgorithm(alg: unknown): alg is KeySetAlgorithm {
  return (KEY_SET_ALGORITHMS as readonly unknown[]).includes(alg)
}
