import { MAX_TOKEN_BYTES } from '../../shared/constants.ts'
import { AppError } from '../../shared/errors.ts'

/** A compact JWS taken apart, before any signature work. */
export interface CompactJws {
  header: Record<string, unknown>
  kid: string
  alg: string
  /** The ASCII `header.payload` the signature covers. */
  signingInput: Buffer
  /** The payload segment, canonical but still encoded: decoded only once the signature holds. */
  payloadSegment: string
  signature: Buffer
}

const SEGMENT = /^[A-Za-z0-9_-]*$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Take a compact JWS apart with the strict checks that run before any
 * signature work (docs/protocol.md §5): at most 4 KiB, exactly three
 * segments, each canonical base64url (no padding, whitespace, standard
 * alphabet or stray trailing bits: decoding then encoding gives it back), a
 * header that is a JSON object with a string `kid` and `alg`, and neither
 * `crit` nor `b64` (no extension is understood, so none may be relied on:
 * `token_invalid`, as jose says of an extension it does not know).
 *
 * @param token - the compact JWS
 * @throws AppError `token_malformed`, or `token_invalid` for `crit` or `b64`
 * @example
 * ```ts
 * const { kid, alg } = parseCompactJws(token)
 * ```
 */
export function parseCompactJws(token: string): CompactJws {
  if (token.length > MAX_TOKEN_BYTES) {
    throw new AppError('token_malformed', `token over ${MAX_TOKEN_BYTES} bytes`)
  }
  const first = token.indexOf('.')
  const second = token.indexOf('.', first + 1)
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1) {
    throw new AppError('token_malformed', 'not a compact JWS')
  }
  const headerSegment = token.slice(0, first)
  const payloadSegment = token.slice(first + 1, second)
  const signature = decodeSegment(token.slice(second + 1))
  assertCanonical(payloadSegment)
  const header = parseJsonObject(decodeSegment(headerSegment))
  if (!header) throw new AppError('token_malformed', 'header is not base64url JSON')
  const { kid, alg } = header
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256) {
    throw new AppError('token_malformed', 'header kid missing or not a string')
  }
  if (typeof alg !== 'string' || alg.length === 0) {
    throw new AppError('token_malformed', 'header alg missing')
  }
  if (Object.hasOwn(header, 'crit')) {
    // Codes as jose gives them: a malformed crit is malformed, a well-formed one names an extension refused here.
    const { crit } = header
    const wellFormed =
      Array.isArray(crit) &&
      crit.length > 0 &&
      crit.every((name) => typeof name === 'string' && name.length > 0)
    if (!wellFormed) throw new AppError('token_malformed', 'header crit malformed')
    throw new AppError('token_invalid', 'header crit refused: no extension is supported')
  }
  if (Object.hasOwn(header, 'b64')) throw new AppError('token_invalid', 'header b64 refused')
  return {
    header,
    kid,
    alg,
    signingInput: Buffer.from(token.slice(0, second), 'ascii'),
    payloadSegment,
    signature,
  }
}

/**
 * Decode one canonical base64url segment.
 *
 * @param segment - one segment of a compact JWS
 * @throws AppError `token_malformed` for anything `Buffer` would have to forgive
 * @example
 * ```ts
 * decodeSegment('eyJ9') // throws: a stray bit past the last byte
 * ```
 */
export function decodeSegment(segment: string): Buffer {
  assertCanonical(segment)
  return Buffer.from(segment, 'base64url')
}

/** The value of each base64url character, or -1. */
const VALUES = new Int8Array(128).fill(-1)
for (const [i, c] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
].entries())
  VALUES[c.charCodeAt(0)] = i

/**
 * Refuse a segment that is not canonical base64url: characters outside the
 * alphabet (padding, whitespace, `+` and `/`: Buffer's decoder would skip or
 * take them), a length no encoding has, or set bits past the last byte, which
 * would let several strings carry the same bytes.
 *
 * @param segment - one segment of a compact JWS
 * @throws AppError `token_malformed`
 * @example
 * ```ts
 * assertCanonical('e30') // '{}': fine
 * assertCanonical('e30=') // throws: padding
 * ```
 */
export function assertCanonical(segment: string): void {
  const unusedBits = [0, -1, 4, 2][segment.length % 4]!
  if (unusedBits < 0 || !SEGMENT.test(segment)) {
    throw new AppError('token_malformed', 'not a compact JWS')
  }
  if (
    unusedBits > 0 &&
    (VALUES[segment.charCodeAt(segment.length - 1)]! & ((1 << unusedBits) - 1)) !== 0
  ) {
    throw new AppError('token_malformed', 'not canonical base64url')
  }
}

/**
 * Parse strict UTF-8 JSON that must be a plain object (as jose requires of
 * a JOSE header and a JWT claims set); undefined otherwise.
 *
 * @param bytes - decoded segment bytes
 * @example
 * ```ts
 * parseJsonObject(Buffer.from('[]')) // undefined
 * ```
 */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let value: unknown
  try {
    value = JSON.parse(utf8.decode(bytes))
  } catch {
    return undefined
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}
