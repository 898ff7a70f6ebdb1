import { DPOP_PROOF_MAX_AGE_SECONDS, MAX_DPOP_CLAIM_CHARS } from '../constants.ts'
import { AppError } from '../errors.ts'
import type { DpopProofExpectation } from './verify-proof.ts'

/**
 * The claim checks of RFC 9449 §4.3 (7–12) on a proof whose signature has
 * been verified: `jti`, `htm`, `htu` (query and fragment ignored), `iat`
 * within the window, `ath` against the presented token's hash, and the
 * nonce. One place for both proof checkers: jose's (shared/dpop) and the
 * realtime node's synchronous node:crypto one, so they cannot drift apart.
 *
 * @param payload - the proof's verified claims
 * @param expect - {@link DpopProofExpectation}
 * @param check - the clock (ms), the `iat` window (s), and the presented token's `ath` (undefined: no token)
 * @returns the proof's `jti` and `iat`
 * @throws AppError `dpop_invalid` (the failed check, never a value), `dpop_nonce_required`
 */
export function checkProofClaims(
  payload: Record<string, unknown>,
  expect: DpopProofExpectation,
  check: { nowMs: number; maxAgeSeconds?: number | undefined; ath: string | undefined },
): { jti: string; iat: number } {
  const { htm, htu, iat, jti, ath, nonce } = payload
  if (typeof jti !== 'string' || jti === '' || jti.length > MAX_DPOP_CLAIM_CHARS)
    throw invalid('jti: a string of 1-256 characters is required')
  if (htm !== expect.htm) throw invalid('htm: not the request method')
  if (typeof htu !== 'string' || !sameResource(htu, expect.htu))
    throw invalid('htu: not the request URL')
  const maxAge = check.maxAgeSeconds ?? DPOP_PROOF_MAX_AGE_SECONDS
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalid('iat: a number is required')
  if (Math.abs(check.nowMs / 1000 - iat) > maxAge)
    throw invalid('iat: not within the accepted window')
  if (check.ath === undefined) {
    if (ath !== undefined) throw invalid('ath: present without an access token')
  } else if (typeof ath !== 'string' || ath !== check.ath) {
    throw invalid('ath: not the hash of the presented token')
  }
  if (expect.acceptNonce) {
    if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length > MAX_DPOP_CLAIM_CHARS))
      throw invalid('nonce: a string of at most 256 characters')
    if (!expect.acceptNonce(nonce as string | undefined))
      throw new AppError('dpop_nonce_required', nonce === undefined ? 'no nonce' : 'stale nonce')
  }
  return { jti, iat }
}

function invalid(message: string): AppError<'dpop_invalid'> {
  return new AppError('dpop_invalid', message)
}

/** RFC 9449 §4.3 (9): compare without query and fragment, after URL normalization. */
function sameResource(htu: string, expected: string | URL): boolean {
  let claimed: URL
  try {
    claimed = new URL(htu)
  } catch {
    return false
  }
  const want = typeof expected === 'string' ? new URL(expected) : expected
  return claimed.origin === want.origin && claimed.pathname === want.pathname
}
