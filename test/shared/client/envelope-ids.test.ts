/** Envelope ids (shared/client/envelope-ids.ts) as the contract's id rule reads them. */
import { describe, expect, it } from 'vitest'
import { envelopeIds } from '../../../shared/client/envelope-ids.ts'
import { ENVELOPE_ID_PATTERN } from '../../../shared/envelope.ts'

describe('envelopeIds', () => {
  it('gives ids the envelope schema accepts, never the same twice, and apart between clients', () => {
    const a = envelopeIds()
    const b = envelopeIds()
    const ids = [...Array.from({ length: 1000 }, a), ...Array.from({ length: 1000 }, b)]
    for (const id of ids) expect(id).toMatch(ENVELOPE_ID_PATTERN)
    expect(new Set(ids).size).toBe(2000)
  })
})
