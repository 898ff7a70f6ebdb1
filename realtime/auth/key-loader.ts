import type { KeySet } from '../../shared/jwks/key-set.ts'
import type { Logger } from '../log.ts'
import { KEY_LOAD_RETRY_MS } from '../constants.ts'

/** The background key load of a realtime server. */
export interface KeyLoader {
  /** Start loading (idempotent while a load or retry is under way). */
  start(): void
  /** Whether a load has succeeded. */
  loaded(): boolean
  /** Cancel a pending retry. */
  stop(): void
}

/**
 * Load the key set in the background, retrying every `retryMs` until it
 * succeeds: the service starts while the edge is briefly down, and stays
 * not ready (`/readyz`) until the keys are in.
 *
 * @param keySet - the edge's key set
 * @param logger - where attempts are logged
 * @param retryMs - wait between attempts. @default {@link KEY_LOAD_RETRY_MS}
 * @example
 * ```ts
 * const keys = createKeyLoader(keySet, logger)
 * keys.start()
 * ```
 */
export function createKeyLoader(
  keySet: KeySet,
  logger: Logger,
  retryMs = KEY_LOAD_RETRY_MS,
): KeyLoader {
  let loaded = false
  let retry: ReturnType<typeof setTimeout> | undefined
  const load = () => {
    keySet.load().then(
      () => {
        loaded = true
        logger('info', 'signing keys loaded', { kids: keySet.kids() })
      },
      (err) => {
        logger('warn', 'signing keys not loaded; retrying', { error: String(err) })
        retry = setTimeout(load, retryMs)
        retry.unref()
      },
    )
  }
  return {
    start: load,
    loaded: () => loaded,
    stop() {
      if (retry) clearTimeout(retry)
    },
  }
}
