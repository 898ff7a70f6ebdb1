import type { JWTVerifyGetKey } from 'jose'
import type { KeySet } from '../../shared/jwks/key-set.ts'
import type { Logger } from '../log.ts'

/**
 * Least time between two JWKS refetches caused by revocation pushes signed by
 * an unknown kid, in ms. Pushes have their own budget, apart from
 * handshakes', so made-up kids in handshakes never hold back the push of an
 * emergency rotation; a forged push costs at most one conditional GET per
 * this period.
 */
export const PUSH_UNKNOWN_KID_COOLDOWN_MS = 1_000

/**
 * The key resolver for revocation pushes: an unknown kid causes one bounded
 * JWKS refetch before the push is judged, since after an emergency rotation
 * the push is signed by the new key (docs/protocol.md §4 invariant 5, §6).
 *
 * @param keySet - the edge's key set
 * @param cooldownMs - least time between such refetches. @default 1_000
 * @example
 * ```ts
 * createPushReceiver({ getKey: pushKeyResolver(keySet), issuer })
 * ```
 */
export function pushKeyResolver(
  keySet: KeySet,
  cooldownMs = PUSH_UNKNOWN_KID_COOLDOWN_MS,
): JWTVerifyGetKey {
  return keySet.resolver({ cooldownMs })
}

/**
 * Refetch the JWKS at once when a `key` revocation event arrives, by push,
 * pull or from another node: an emergency rotation has just published a new
 * key, and logins made right after it must connect within 1 s
 * (docs/protocol.md §4 invariant 5). Concurrent calls share one fetch.
 *
 * @param keySet - the edge's key set
 * @param logger - where a failed refetch is reported
 */
export function refetchKeysOnKeyEvent(keySet: KeySet, logger: Logger): void {
  keySet.refetch().catch((err: Error) => {
    logger('warn', 'JWKS refetch after a key revocation failed', { error: err.message })
  })
}
