/** The envelope (docs/protocol.md §5): what clients build and what the server accepts. */
import { describe, expect, it } from 'vitest'
import { MAX_ENVELOPE_BYTES } from '../../shared/constants.ts'
import { createEnvelope, envelopeBytes, parseEnvelope } from '../../shared/envelope.ts'

describe('createEnvelope', () => {
  it('builds what parseEnvelope accepts, stamped now, with a token only when given', () => {
    const before = Date.now()
    const plain = createEnvelope('c-1', { room: 'lobby' })
    expect(plain).toEqual({ v: 1, id: 'c-1', ts: plain.ts, data: { room: 'lobby' } })
    expect(plain.ts).toBeGreaterThanOrEqual(before)
    expect('token' in plain).toBe(false)
    expect(parseEnvelope(plain)).toEqual(plain)

    const auth = createEnvelope('c-2', null, 'a.b.c')
    expect(auth).toMatchObject({ id: 'c-2', data: null, token: 'a.b.c' })
    expect(parseEnvelope(auth)).toEqual(auth)
  })
})

describe('parseEnvelope', () => {
  const ok = { v: 1, id: 'x', ts: 1, data: null }
  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['an array', [ok]],
    ['no data key', { v: 1, id: 'x', ts: 1 }],
    ['another version', { ...ok, v: 2 }],
    ['an empty id', { ...ok, id: '' }],
    ['a 65-character id', { ...ok, id: 'a'.repeat(65) }],
    ['an id outside the alphabet', { ...ok, id: 'a b' }],
    ['a fractional ts', { ...ok, ts: 1.5 }],
    ['a string ts', { ...ok, ts: '1' }],
    ['an unknown key', { ...ok, extra: true }],
    ['a token that is not a string', { ...ok, token: 42 }],
  ])('refuses %s', (_, input) => {
    expect(parseEnvelope(input)).toBeUndefined()
  })

  it('accepts a 64-character id and null data', () => {
    expect(parseEnvelope({ ...ok, id: 'a'.repeat(64) })).toEqual({ ...ok, id: 'a'.repeat(64) })
  })
})

describe('envelopeBytes', () => {
  it('counts UTF-8 bytes, and Infinity for what cannot be serialized', () => {
    expect(envelopeBytes({ data: 'é'.repeat(MAX_ENVELOPE_BYTES) })).toBe(
      new TextEncoder().encode(JSON.stringify({ data: 'é'.repeat(MAX_ENVELOPE_BYTES) })).byteLength,
    )
    expect(envelopeBytes({ a: 1 })).toBe(7)
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(envelopeBytes(cyclic)).toBe(Infinity)
    expect(envelopeBytes(undefined)).toBe(Infinity)
    expect(envelopeBytes({ n: 10n })).toBe(Infinity)
  })
})
