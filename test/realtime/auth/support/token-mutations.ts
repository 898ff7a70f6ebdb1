/**
 * Mutations of a valid access token for the differential test: bit flips in
 * each segment, base64 re-encodings, header and payload edits put back under
 * a valid signature, swapped signatures, other keys and algorithms, and the
 * HMAC-with-the-public-key confusion.
 */
import { CLAIM_NAMES, CLAIM_VALUES } from './claim-values.ts'
import { b64u, hmacWithPublicKey, signRaw, type FixtureKey, type Prng } from './jws-fixtures.ts'

/** What one mutation needs. */
export interface MutationContext {
  rng: Prng
  /** The issuer's key for the algorithm under test. */
  key: FixtureKey
  /** The issuer's keys of the other algorithms (all in the key set). */
  others: FixtureKey[]
  /** An attacker's key of the same alg, under the same kid. */
  impostor: FixtureKey
  /** The claims of a valid token at `nowSeconds`. */
  claims: Record<string, unknown>
  nowSeconds: number
  tolerance: number
}

/** A mutated token and the mutation's name. */
export interface Mutation {
  kind: string
  token: string
}

type Mutator = (c: MutationContext, base: string) => string

const header = (c: MutationContext, extra: Record<string, unknown> = {}) => ({
  alg: c.key.alg,
  typ: 'at+jwt',
  kid: c.key.kid,
  ...extra,
})
const resign = (c: MutationContext, h: object | string, p: object | string | Uint8Array) =>
  signRaw(
    c.key,
    typeof h === 'string' ? h : JSON.stringify(h),
    typeof p === 'object' && !(p instanceof Uint8Array) ? JSON.stringify(p) : p,
  )

/** A valid token for the context's key and claims. */
export function validToken(c: MutationContext, claims = c.claims): string {
  return resign(c, header(c), claims)
}

const segments = (token: string) => token.split('.')
function flipBit(bytes: Buffer, rng: Prng): Buffer {
  const copy = Buffer.from(bytes)
  if (copy.length === 0) return copy
  const i = rng.int(copy.length)
  copy[i] = copy[i]! ^ (1 << rng.int(8))
  return copy
}
function replaceSegment(token: string, index: number, value: string): string {
  const parts = segments(token)
  parts[index] = value
  return parts.join('.')
}
function insertAt(text: string, position: number, insert: string): string {
  return text.slice(0, position) + insert + text.slice(position)
}

/** Another char for a segment's last char that decodes to the same bytes (its unused low bits differ). */
function sameBytesLastChar(segment: string, rng: Prng): string | undefined {
  const unused = segment.length % 4 === 2 ? 4 : segment.length % 4 === 3 ? 2 : 0
  if (unused === 0) return undefined
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const value = alphabet.indexOf(segment.at(-1)!)
  const replaced = alphabet[(value & ~((1 << unused) - 1)) | (1 + rng.int((1 << unused) - 1))]!
  return segment.slice(0, -1) + replaced
}

const HEADER_EDITS: Array<(c: MutationContext) => object | string> = [
  (c) => {
    const { typ: _, ...h } = header(c)
    return h
  },
  (c) => header(c, { typ: 'JWT' }),
  (c) => header(c, { typ: 'AT+JWT' }),
  (c) => header(c, { typ: 'application/at+jwt' }),
  (c) => header(c, { typ: 'application/AT+JWT' }),
  (c) => header(c, { typ: 'at+jwt ' }),
  (c) => header(c, { typ: '' }),
  (c) => header(c, { typ: 123 }),
  (c) => header(c, { typ: null }),
  (c) => {
    const { kid: _, ...h } = header(c)
    return h
  },
  (c) => header(c, { kid: '' }),
  (c) => header(c, { kid: 42 }),
  (c) => header(c, { kid: null }),
  (c) => header(c, { kid: [c.key.kid] }),
  (c) => header(c, { kid: 'x'.repeat(257) }),
  (c) => header(c, { kid: 'unknown-' + c.rng.int(1e9) }),
  (c) => header(c, { kid: c.rng.pick(c.others).kid }),
  (c) => header(c, { kid: c.rng.pick(['__proto__', 'constructor', 'toString']) }),
  (c) => {
    const { alg: _, ...h } = header(c)
    return h
  },
  (c) =>
    header(c, {
      alg: c.rng.pick([
        'none',
        'None',
        'HS256',
        'HS384',
        'RS384',
        'ES512',
        'Ed25519',
        '',
        c.key.alg.toLowerCase(),
      ]),
    }),
  (c) => header(c, { alg: c.rng.pick(c.others).alg }),
  (c) => header(c, { alg: 256 }),
  (c) => header(c, { crit: ['b64'], b64: true }),
  (c) => header(c, { crit: ['b64'], b64: false }),
  (c) => header(c, { crit: ['b64'] }),
  (c) => header(c, { crit: ['exp'], exp: 1 }),
  (c) => header(c, { crit: [] }),
  (c) => header(c, { crit: 'b64', b64: true }),
  (c) => header(c, { crit: [''] }),
  (c) => header(c, { crit: [1] }),
  (c) => header(c, { b64: true }),
  (c) => header(c, { b64: false }),
  (c) => header(c, { jku: 'https://attacker.example/jwks.json' }),
  (c) => header(c, { x5u: 'https://attacker.example/cert.pem' }),
  (c) => header(c, { jwk: c.impostor.jwk }),
  (c) => header(c, { x5c: ['MIIB'] }),
  (c) => header(c, { cty: 'JWT', zip: 'DEF' }),
  (c) => `{"alg":"none","alg":"${c.key.alg}","typ":"at+jwt","kid":"${c.key.kid}"}`,
  (c) => `{"alg":"${c.key.alg}","alg":"none","typ":"at+jwt","kid":"${c.key.kid}"}`,
  (c) => `{"alg":"${c.key.alg}","typ":"at+jwt","kid":"nope","kid":"${c.key.kid}"}`,
  (c) => `{"alg":"${c.key.alg}","typ":"at+jwt","kid":"${c.key.kid}","kid":"nope"}`,
  (c) => `{"alg":"${c.key.alg}","typ":"JWT","typ":"at+jwt","kid":"${c.key.kid}"}`,
  (c) => `{"__proto__":{"alg":"none"},"alg":"${c.key.alg}","typ":"at+jwt","kid":"${c.key.kid}"}`,
  (c) => ` \n${JSON.stringify(header(c))}\t `,
  (c) => `\ufeff${JSON.stringify(header(c))}`,
  (c) => c.rng.pick(['[]', '"x"', '1', 'null', 'true', '{', '{"alg":', '']),
  (c) => `[${JSON.stringify(header(c))}]`,
]

const PAYLOAD_EDITS: Array<(c: MutationContext) => object | string | Uint8Array> = [
  (c) => ({ ...c.claims, exp: c.nowSeconds - c.tolerance }),
  (c) => ({ ...c.claims, exp: c.nowSeconds - c.tolerance + 1 }),
  (c) => ({ ...c.claims, exp: c.nowSeconds - c.tolerance + 0.5 }),
  (c) => ({ ...c.claims, exp: String(c.nowSeconds + 60) }),
  (c) => ({ ...c.claims, exp: null }),
  (c) => ({ ...c.claims, nbf: c.nowSeconds + c.tolerance }),
  (c) => ({ ...c.claims, nbf: c.nowSeconds + c.tolerance + 1 }),
  (c) => ({ ...c.claims, nbf: c.nowSeconds + c.tolerance + 0.5 }),
  (c) => ({ ...c.claims, nbf: 'now' }),
  (c) => ({ ...c.claims, iat: String(c.nowSeconds) }),
  (c) => ({ ...c.claims, iat: c.nowSeconds + 3600 }),
  (c) => ({ ...c.claims, iss: `${c.claims.iss}/` }),
  (c) => ({ ...c.claims, iss: [c.claims.iss] }),
  (c) => ({ ...c.claims, aud: 'other' }),
  (c) => ({ ...c.claims, aud: ['other', 'realtime'] }),
  (c) => ({ ...c.claims, aud: ['other'] }),
  (c) => ({ ...c.claims, aud: [] }),
  (c) => ({ ...c.claims, aud: ['realtime', 7] }),
  (c) => {
    const claims = { ...c.claims }
    delete claims[
      c.rng.pick(['iss', 'aud', 'sub', 'sid', 'jti', 'iat', 'exp', 'nbf', 'name', 'scope', 'rooms'])
    ]
    return claims
  },
  (c) => ({ ...c.claims, [c.rng.pick(['sub', 'sid', 'jti'])]: c.rng.pick(['', 7, null]) }),
  (c) => ({ ...c.claims, scope: 'chat:write  double' }),
  (c) => ({ ...c.claims, rooms: ['bad room'] }),
  (c) => ({ ...c.claims, extra: { nested: true } }),
  // A claim at or past the access-token schema's edges (realtime checks those by hand).
  (c) => {
    const claim = c.rng.pick(CLAIM_NAMES)
    return { ...c.claims, [claim]: c.rng.pick(CLAIM_VALUES[claim]!) }
  },
  (c) => {
    const claim = c.rng.pick(CLAIM_NAMES)
    return { ...c.claims, [claim]: c.rng.pick(CLAIM_VALUES[claim]!) }
  },
  (c) => `{"exp":${c.nowSeconds - 3600},${JSON.stringify(c.claims).slice(1)}`,
  (c) => `${JSON.stringify(c.claims).slice(0, -1)},"exp":${c.nowSeconds - 3600}}`,
  (c) => `{"__proto__":{"exp":1},${JSON.stringify(c.claims).slice(1)}`,
  (c) => `\ufeff${JSON.stringify(c.claims)}`,
  (c) =>
    Buffer.concat([
      Buffer.from(JSON.stringify(c.claims).slice(0, -1) + ',"name2":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}'),
    ]),
  (c) => c.rng.pick(['[]', '"x"', '1', 'null', '{', `[${JSON.stringify(c.claims)}]`]),
]

/** The mutations, by name; each takes a valid token of the context's key. */
export const MUTATORS: Record<string, Mutator> = {
  unchanged: (_c, base) => base,
  'bit flip in a char': (c, base) => {
    const i = c.rng.int(base.length)
    const code = base.charCodeAt(i) ^ (1 << c.rng.int(7))
    return base.slice(0, i) + String.fromCharCode(code) + base.slice(i + 1)
  },
  'bit flip in the header': (c, base) =>
    replaceSegment(base, 0, b64u(flipBit(Buffer.from(segments(base)[0]!, 'base64url'), c.rng))),
  'bit flip in the payload': (c, base) =>
    replaceSegment(base, 1, b64u(flipBit(Buffer.from(segments(base)[1]!, 'base64url'), c.rng))),
  'bit flip in the signature': (c, base) =>
    replaceSegment(base, 2, b64u(flipBit(Buffer.from(segments(base)[2]!, 'base64url'), c.rng))),
  'signature cut or extended': (c, base) => {
    const sig = Buffer.from(segments(base)[2]!, 'base64url')
    const n = 1 + c.rng.int(4)
    return replaceSegment(
      base,
      2,
      b64u(c.rng.int(2) ? sig.subarray(0, sig.length - n) : Buffer.concat([sig, Buffer.alloc(n)])),
    )
  },
  'padding added': (c, base) => {
    const i = c.rng.int(3)
    return replaceSegment(base, i, segments(base)[i]! + c.rng.pick(['=', '==', '===']))
  },
  'whitespace inserted': (c, base) => {
    const i = c.rng.int(3)
    const segment = segments(base)[i]!
    return replaceSegment(
      base,
      i,
      insertAt(
        segment,
        c.rng.int(segment.length + 1),
        c.rng.pick([' ', '\n', '\t', '\r', '\u00a0']),
      ),
    )
  },
  'standard alphabet': (c, base) => {
    const i = c.rng.int(3)
    const std = Buffer.from(segments(base)[i]!, 'base64url').toString('base64')
    return replaceSegment(base, i, c.rng.int(2) ? std : std.replace(/=+$/, ''))
  },
  'same bytes, other trailing bits': (c, base) => {
    const i = c.rng.int(3)
    const other = sameBytesLastChar(segments(base)[i]!, c.rng)
    return other ? replaceSegment(base, i, other) : base
  },
  'segments added, dropped or emptied': (c, base) => {
    const [h, p, s] = segments(base)
    return c.rng.pick([
      `${base}.`,
      `.${base}`,
      `${base}.${s}`,
      `${h}.${p}`,
      `${h}..${s}`,
      `.${p}.${s}`,
      `${h}.${p}.`,
      `${h}.${p}.${s}.${s}.${s}`,
      `${h}${p}.${s}`,
    ])
  },
  'header edited and re-signed': (c) => resign(c, c.rng.pick(HEADER_EDITS)(c), c.claims),
  'payload edited and re-signed': (c) => resign(c, header(c), c.rng.pick(PAYLOAD_EDITS)(c)),
  'oversized and re-signed': (c) =>
    resign(c, header(c), { ...c.claims, pad: 'x'.repeat(2900 + c.rng.int(400)) }),
  'alg swapped, signature kept': (c, base) => {
    const alg = c.rng.pick(['none', 'HS256', ...c.others.map((k) => k.alg)])
    const swapped = replaceSegment(base, 0, b64u(JSON.stringify(header(c, { alg }))))
    return alg === 'none' && c.rng.int(2) ? replaceSegment(swapped, 2, '') : swapped
  },
  'HS256 keyed with the public key': (c) =>
    hmacWithPublicKey(
      c.key,
      header(c, { alg: 'HS256' }),
      JSON.stringify(c.claims),
      c.rng.pick(['pem', 'jwk'] as const),
    ),
  'signature of another token by the same key': (c, base) =>
    replaceSegment(
      base,
      2,
      segments(validToken(c, { ...c.claims, jti: `j-${c.rng.int(1e9)}` }))[2]!,
    ),
  'signature by another key': (c, base) => {
    const other = c.rng.pick([c.impostor, ...c.others])
    return replaceSegment(
      base,
      2,
      segments(signRaw(other, JSON.stringify(header(c)), JSON.stringify(c.claims)))[2]!,
    )
  },
  'signed by an impostor under the same kid': (c) =>
    signRaw(c.impostor, JSON.stringify(header(c)), JSON.stringify(c.claims)),
  "signed by another issuer key, naming this key's kid": (c) => {
    const other = c.rng.pick(c.others)
    return signRaw(
      other,
      JSON.stringify(header(c, { alg: c.rng.int(2) ? other.alg : c.key.alg })),
      JSON.stringify(c.claims),
    )
  },
  'signed by another issuer key under its own kid': (c) => {
    const other = c.rng.pick(c.others)
    return signRaw(
      other,
      JSON.stringify({ alg: other.alg, typ: 'at+jwt', kid: other.kid }),
      JSON.stringify(c.claims),
    )
  },
}

/**
 * One seeded mutation of a fresh valid token.
 *
 * @param c - the context; its PRNG decides everything
 */
export function mutate(c: MutationContext, base: string): Mutation {
  const kind = c.rng.pick(Object.keys(MUTATORS))
  return { kind, token: MUTATORS[kind]!(c, base) }
}
