import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify, type JWK } from 'jose'
import { DPOP_ALGORITHMS, DPOP_PROOF_TYP, MAX_DPOP_PROOF_BYTES } from '../constants.ts'
import { AppError } from '../errors.ts'
import { accessTokenHash } from './access-token-hash.ts'
import { checkProofClaims } from './proof-claims.ts'

/** What a proof must say to be accepted for one request (RFC 9449 §4.3). */
export interface DpopProofExpectation {
  /** The request's method, upper case (`POST`; `GET` for a Socket.IO handshake). */
  htm: string
  /** The request's URL; its query and fragment are ignored on both sides. */
  htu: string | URL
  /** The access token presented with the proof: `ath` must be its hash. Absent: the proof must not carry `ath`. */
  accessToken?: string
  /** The thumbprint the token is bound to (`cnf.jkt`): the proof's key must be that key. */
  jkt?: string
  /**
   * Whether the proof's `nonce` is one the server currently hands out. Absent:
   * nonces are not used and any `nonce` is ignored. Returning false refuses the
   * proof with `dpop_nonce_required`, so the caller answers with a fresh nonce.
   */
  acceptNonce?: (nonce: string | undefined) => boolean
}

/** Options of {@link verifyDpopProof}. */
export interface VerifyDpopProofOptions {
  /** The clock, ms since the epoch. @default Date.now() */
  now?: number
  /** How far `iat` may be from now, either way, in seconds. @default 60 */
  maxAgeSeconds?: number
}

/** A proof that passed every check but replay, which the caller's replay cache decides. */
export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key. */
  jkt: string
  /** The proof's `jti`: claim it in a replay cache before accepting the request. */
  jti: string
  /** The proof's `iat`, seconds. */
  iat: number
}

const ALGORITHMS = [...DPOP_ALGORITHMS]

/**
 * Verify a DPoP proof (RFC 9449 §4.3; docs/protocol.md §15): a compact JWS of
 * `typ: dpop+jwt`, signed with ES256 or EdDSA by the public key in its own
 * `jwk` header (a private key there is refused), whose `htm` and `htu` are the
 * request's, whose `iat` is within 60 s of now, and whose `ath` is the hash
 * of the presented token. The signature goes through jose.
 *
 * Replay is not checked here: claim the returned `jti` in a replay cache
 * shared by every place that accepts proofs for the same URL.
 *
 * @param proof - the `DPoP` header, `auth.dpop` or an envelope's `dpop`
 * @param expect - {@link DpopProofExpectation}
 * @param options - {@link VerifyDpopProofOptions}
 * @throws AppError `dpop_invalid` (the failed check in `message`, never the proof), `dpop_nonce_required`
 * @example
 * ```ts
 * const { jkt, jti } = await verifyDpopProof(request.headers.get('DPoP') ?? '', {
 *   htm: 'POST',
 *   htu: 'https://auth.example.com/auth/refresh',
 * })
 * if (!(await replayCache.claim(jti))) throw new AppError('dpop_invalid', 'proof replayed')
 * ```
 */
export async function verifyDpopProof(
  proof: string,
  expect: DpopProofExpectation,
  options: VerifyDpopProofOptions = {},
): Promise<VerifiedDpopProof> {
  if (typeof proof !== 'string' || proof === '') throw invalid('no proof')
  if (proof.length > MAX_DPOP_PROOF_BYTES) throw invalid('proof too long')
  const now = options.now ?? Date.now()
  let verified
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: DPOP_PROOF_TYP,
      algorithms: ALGORITHMS,
      currentDate: new Date(now),
    })
  } catch (error) {
    throw invalid(joseReason(error), error)
  }
  const { payload, protectedHeader } = verified
  const { jti, iat } = checkProofClaims(payload as Record<string, unknown>, expect, {
    nowMs: now,
    maxAgeSeconds: options.maxAgeSeconds,
    ath: expect.accessToken === undefined ? undefined : await accessTokenHash(expect.accessToken),
  })

  const jkt = await calculateJwkThumbprint(protectedHeader.jwk as JWK, 'sha256')
  if (expect.jkt !== undefined && jkt !== expect.jkt)
    throw invalid('jwk: not the key the token is bound to')
  return { jkt, jti, iat }
}

function invalid(message: string, cause?: unknown): AppError<'dpop_invalid'> {
  return new AppError('dpop_invalid', message, cause === undefined ? {} : { cause })
}

/** The failed check from jose's error, never the input. */
function joseReason(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed) return 'alg: ES256 or EdDSA is required'
  if (error instanceof errors.JWTClaimValidationFailed) return `${error.claim}: ${error.reason}`
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify'
  if (error instanceof errors.JOSEError) return `proof: ${error.code}`
  return 'proof: malformed'
}
