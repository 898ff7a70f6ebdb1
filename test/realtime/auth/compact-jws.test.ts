/**
 * The strict compact-form checks in front of the native signature check
 * (docs/protocol.md §5): one canonical spelling per token, a header that is a
 * JSON object with a string kid and alg, and no crit or b64.
 */
import { describe, expect, it } from 'vitest'
import { parseCompactJws } from '../../../realtime/auth/compact-jws.ts'
import { MAX_TOKEN_BYTES } from '../../../shared/constants.ts'
import { b64u } from './support/jws-fixtures.ts'

const HEADER = { alg: 'ES256', typ: 'at+jwt', kid: 'k1' }
// 86 characters: 64 bytes, the last character carries 4 unused bits.
const SIGNATURE = b64u(Buffer.alloc(64, 7))
// 15 characters: 11 bytes, the last character carries 2 unused bits.
const PAYLOAD = b64u('{"sub":"u"}')
const token = (header: unknown = HEADER, payload = PAYLOAD, signature = SIGNATURE) =>
  `${typeof header === 'string' ? b64u(header) : b64u(JSON.stringify(header))}.${payload}.${signature}`
const code = (c: string) => expect.objectContaining({ name: 'AppError', code: c })

/** The same bytes spelled with other unused trailing bits. */
function otherTrailingBits(segment: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  return segment.slice(0, -1) + alphabet[alphabet.indexOf(segment.at(-1)!) | 1]
}

describe('parseCompactJws', () => {
  it('takes a well-formed token apart: header, kid, alg, signing input, signature bytes', () => {
    const parsed = parseCompactJws(token())
    expect(parsed).toMatchObject({
      header: HEADER,
      kid: 'k1',
      alg: 'ES256',
      payloadSegment: PAYLOAD,
    })
    expect(parsed.signingInput.toString('ascii')).toBe(token().split('.').slice(0, 2).join('.'))
    expect(parsed.signature).toEqual(Buffer.alloc(64, 7))
  })

  it.each<[string, () => string]>([
    ['two segments', () => token().split('.').slice(0, 2).join('.')],
    ['four segments', () => `${token()}.${SIGNATURE}`],
    ['an empty header', () => `.${PAYLOAD}.${SIGNATURE}`],
    ['an empty payload', () => token().replace(`.${PAYLOAD}.`, '..')],
    ['padding on the signature', () => `${token()}==`],
    ['padding on the payload', () => token(HEADER, `${PAYLOAD}=`)],
    ['a space in the payload', () => token(HEADER, `${PAYLOAD.slice(0, 4)} ${PAYLOAD.slice(4)}`)],
    [
      'a newline in the signature',
      () => token(HEADER, PAYLOAD, `${SIGNATURE.slice(0, 10)}\n${SIGNATURE.slice(10)}`),
    ],
    [
      'the standard alphabet',
      () => token(HEADER, PAYLOAD, Buffer.alloc(64, 0xfb).toString('base64').replace(/=+$/, '')),
    ],
    ['a segment of impossible length (4n+1)', () => token(HEADER, PAYLOAD, `${SIGNATURE}AAA`)],
    [
      'other trailing bits on the signature',
      () => token(HEADER, PAYLOAD, otherTrailingBits(SIGNATURE)),
    ],
    ['other trailing bits on the payload', () => token(HEADER, otherTrailingBits(PAYLOAD))],
    [
      'other trailing bits on the header',
      () => {
        const header = b64u(JSON.stringify(HEADER))
        expect(header.length % 4).not.toBe(0)
        return `${otherTrailingBits(header)}.${PAYLOAD}.${SIGNATURE}`
      },
    ],
    ['a header that is not JSON', () => token('{"alg":')],
    ['a header that is an array', () => token([HEADER])],
    ['a header that is a string', () => token('"x"')],
    [
      'a header of invalid UTF-8',
      () => `${b64u(Buffer.from([0x7b, 0xff, 0x7d]))}.${PAYLOAD}.${SIGNATURE}`,
    ],
    ['no kid', () => token({ alg: 'ES256' })],
    ['a numeric kid', () => token({ ...HEADER, kid: 1 })],
    ['an empty kid', () => token({ ...HEADER, kid: '' })],
    ['a 257-character kid', () => token({ ...HEADER, kid: 'k'.repeat(257) })],
    ['no alg', () => token({ kid: 'k1' })],
    ['an empty alg', () => token({ ...HEADER, alg: '' })],
    ['a malformed crit', () => token({ ...HEADER, crit: 'b64' })],
    ['an empty crit', () => token({ ...HEADER, crit: [] })],
    ['a token over 4 KiB', () => token(HEADER, b64u('x'.repeat(MAX_TOKEN_BYTES)))],
  ])('refuses %s as token_malformed', (_, make) => {
    expect(() => parseCompactJws(make())).toThrow(code('token_malformed'))
  })

  it.each([
    ['crit naming b64', { ...HEADER, crit: ['b64'], b64: true }],
    ['crit naming exp', { ...HEADER, crit: ['exp'], exp: 1 }],
    ['b64 without crit', { ...HEADER, b64: true }],
  ])('refuses %s as token_invalid: no extension is supported', (_, header) => {
    expect(() => parseCompactJws(token(header))).toThrow(code('token_invalid'))
  })

  it('ignores jku, x5u and jwk: they are header members, never read', () => {
    const header = { ...HEADER, jku: 'https://evil.example', x5u: 'https://evil.example', jwk: {} }
    expect(parseCompactJws(token(header)).kid).toBe('k1')
  })
})
