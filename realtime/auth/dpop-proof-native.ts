import { createHash, createPublicKey, verify, type JsonWebKey, type KeyObject } from 'node:crypto'
import { DPOP_ALGORITHMS, DPOP_PROOF_TYP, MAX_DPOP_PROOF_BYTES } from '../../shared/constants.ts'
import type {
  DpopProofExpectation,
  VerifiedDpopProof,
  VerifyDpopProofOptions,
} from '../../shared/dpop/index.ts'
import { checkProofClaims } from '../../shared/dpop/proof-claims.ts'
import { AppError } from '../../shared/errors.ts'
import { DPOP_PROOF_KEY_CACHE_ENTRIES } from '../constants.ts'

// Why this file exists beside shared/dpop/verify-proof.ts (jose): a realtime
// node checks a proof on every bound handshake, and jose's path is five
// WebCrypto round trips (import, verify, two digests) through promises and
// the thread pool. This one is node:crypto, synchronous, and held to jose's
// verdicts by test/realtime/auth/dpop-proof-native-differential.test.ts.

const BASE64URL = /^[A-Za-z0-9_-]+$/
const utf8 = new TextDecoder('utf-8', { fatal: true })
const ALGORITHMS: ReadonlySet<string> = new Set(DPOP_ALGORITHMS)
/** The JWK each allowed `alg` needs (jose imports ES256 as P-256 ECDSA, EdDSA as Ed25519). */
const KEY_TYPE: Record<string, { kty: string; crv: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
}

/**
 * {@link verifyDpopProof}'s checks, in its order, with node:crypto: the
 * same verdict (accepted with the same `jkt` and `jti`, or refused with the
 * same code) for every proof, synchronously.
 *
 * @param proof - `auth.dpop` or an envelope's `dpop`
 * @param expect - {@link DpopProofExpectation}; `htu` is compared by origin and path
 * @param options - {@link VerifyDpopProofOptions}
 * @throws AppError `dpop_invalid` (the failed check in `message`, never the proof), `dpop_nonce_required`
 * @example
 * ```ts
 * const { jkt, jti } = verifyDpopProofNative(proof, { htm: 'GET', htu, accessToken: token, jkt: cnf.jkt })
 * ```
 */
export function verifyDpopProofNative(
  proof: string,
  expect: DpopProofExpectation & { htu: URL },
  options: VerifyDpopProofOptions = {},
): VerifiedDpopProof {
  if (typeof proof !== 'string' || proof === '') throw invalid('no proof')
  if (proof.length > MAX_DPOP_PROOF_BYTES) throw invalid('proof too long')
  const nowMs = options.now ?? Date.now()
  const parts = proof.split('.')
  if (parts.length !== 3) throw invalid('proof: ERR_JWS_INVALID')
  const [h, p, s] = parts as [string, string, string]
  if (!BASE64URL.test(h) || !BASE64URL.test(p) || !BASE64URL.test(s))
    throw invalid('proof: ERR_JWS_INVALID')
  const { alg, key, typ, jwk } = keys.get(h) ?? remember(h, importHeader(h))
  const signature = Buffer.from(s, 'base64url')
  let good = false
  try {
    good =
      alg === 'ES256'
        ? verify('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }, signature)
        : verify(null, Buffer.from(`${h}.${p}`), key, signature)
  } catch {
    good = false
  }
  if (!good) throw invalid('signature does not verify')
  if (typeof typ !== 'string' || normalizeTyp(typ) !== normalizeTyp(DPOP_PROOF_TYP))
    throw invalid('typ: unexpected "typ" JWT header value')
  const payload = json(p)
  if (!payload) throw invalid('proof: ERR_JWT_INVALID')
  // jose's registered-claim checks, with no tolerance.
  const now = Math.floor(nowMs / 1000)
  for (const claim of ['iat', 'nbf', 'exp'] as const)
    if (payload[claim] !== undefined && typeof payload[claim] !== 'number')
      throw invalid(`${claim}: "${claim}" claim must be a number`)
  if (payload.nbf !== undefined && (payload.nbf as number) > now)
    throw invalid('nbf: "nbf" claim timestamp check failed')
  if (payload.exp !== undefined && (payload.exp as number) <= now)
    throw invalid('exp: "exp" claim timestamp check failed')

  const { jti, iat } = checkProofClaims(payload, expect, {
    nowMs,
    maxAgeSeconds: options.maxAgeSeconds,
    ath: expect.accessToken === undefined ? undefined : sha256(expect.accessToken),
  })
  const jkt = thumbprint(jwk)
  if (expect.jkt !== undefined && jkt !== expect.jkt)
    throw invalid('jwk: not the key the token is bound to')
  return { jkt, jti, iat }
}

/** A proof header, checked and its key imported: a client signs every proof under the same header. */
interface ProofHeader {
  alg: string
  key: KeyObject
  typ: unknown
  jwk: Record<string, string>
}

/**
 * Headers already imported, by their exact base64url text (so only a byte-identical header
 * hits; the signature is checked on every proof). Bounded, oldest first out.
 */
const keys = new Map<string, ProofHeader>()

function remember(segment: string, header: ProofHeader): ProofHeader {
  keys.set(segment, header)
  if (keys.size > DPOP_PROOF_KEY_CACHE_ENTRIES) keys.delete(keys.keys().next().value!)
  return header
}

/** Parse and check a proof's header, and import its key (jose's EmbeddedJWK and importJWK). */
function importHeader(segment: string): ProofHeader {
  const header = json(segment)
  // jose's crit handling knows only b64, which a JWT never uses.
  if (!header || header.crit !== undefined) throw invalid('proof: ERR_JWS_INVALID')
  const alg = header.alg
  if (typeof alg !== 'string' || !ALGORITHMS.has(alg))
    throw invalid('alg: ES256 or EdDSA is required')
  const jwk = publicJwk(header.jwk, alg)
  let key: KeyObject
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' })
  } catch {
    throw invalid('proof: ERR_JWS_INVALID')
  }
  return { alg, key, typ: header.typ, jwk }
}

/** The header's `jwk`, if it is a public key of `alg`'s type (jose's EmbeddedJWK and importJWK refuse the rest). */
function publicJwk(value: unknown, alg: string): Record<string, string> {
  if (!isObject(value)) throw invalid('proof: ERR_JWS_INVALID')
  const want = KEY_TYPE[alg]!
  const { kty, crv, x, y, d, key_ops: ops } = value
  if (d !== undefined) throw invalid('proof: ERR_JWS_INVALID')
  if (kty !== want.kty || crv !== want.crv || typeof x !== 'string')
    throw invalid('proof: ERR_JWK_INVALID')
  if (kty === 'EC' && typeof y !== 'string') throw invalid('proof: ERR_JWK_INVALID')
  // WebCrypto imports with the JWK's own key_ops; a public key may only verify.
  if (ops !== undefined && (!Array.isArray(ops) || ops.some((op) => op !== 'verify')))
    throw invalid('proof: ERR_JWK_INVALID')
  return kty === 'EC' ? { kty, crv, x, y: y as string } : { kty, crv, x }
}

/** RFC 7638: SHA-256 of the required members in lexicographic order, base64url. */
function thumbprint(jwk: Record<string, string>): string {
  const members =
    jwk.kty === 'EC'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
  return sha256(JSON.stringify(members))
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

function json(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')))
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** jose's `typ` comparison: case-insensitive, `application/` implied. */
function normalizeTyp(value: string): string {
  const lower = value.toLowerCase()
  return value.includes('/') ? lower : `application/${lower}`
}

function invalid(message: string): AppError<'dpop_invalid'> {
  return new AppError('dpop_invalid', message)
}
