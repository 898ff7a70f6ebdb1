import { ConfigError } from '../config-error.ts'

/** `DPOP`: whether a token-issuing call may go without a proof (docs/protocol.md §15). */
export type DpopMode = 'optional' | 'required'

/** The DPoP part of the edge's configuration. */
export interface DpopConfig {
  /** `DPOP`: `optional` (default) binds when a proof comes; `required` refuses calls without one. */
  mode: DpopMode
  /** `DPOP_NONCE=on`: proofs must carry a server nonce (RFC 9449 §8). @default false */
  nonce: boolean
}

/**
 * Parse `DPOP` and `DPOP_NONCE`.
 *
 * @param vars - the worker's variables
 * @throws ConfigError naming the bad variable
 */
export function readDpopConfig(vars: Record<string, string | undefined>): DpopConfig {
  const mode = vars.DPOP || 'optional'
  if (mode !== 'optional' && mode !== 'required')
    throw new ConfigError('DPOP must be optional or required')
  const nonce = vars.DPOP_NONCE || 'off'
  if (nonce !== 'off' && nonce !== 'on') throw new ConfigError('DPOP_NONCE must be off or on')
  return { mode, nonce: nonce === 'on' }
}
