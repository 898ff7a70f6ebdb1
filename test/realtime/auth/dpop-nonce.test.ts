import { describe, expect, it } from 'vitest'
import { createDpopNonces } from '../../../realtime/auth/dpop-nonce.ts'

const SECRET = 'a-test-secret-of-at-least-32-characters'

describe('createDpopNonces', () => {
  it("accepts this window's and the previous window's nonce, and nothing older", () => {
    let now = 1_000_000_000
    const nonces = createDpopNonces({ secret: SECRET, windowSeconds: 60, now: () => now })
    const first = nonces.current()
    expect(nonces.accepts(first)).toBe(true)
    now += 60_000
    const second = nonces.current()
    expect(second).not.toBe(first)
    expect(nonces.accepts(first)).toBe(true)
    expect(nonces.accepts(second)).toBe(true)
    now += 60_000
    expect(nonces.accepts(first)).toBe(false)
    expect(nonces.accepts(second)).toBe(true)
    now += 10 * 60_000
    expect(nonces.accepts(second)).toBe(false)
  })

  it('refuses no nonce, and a nonce made under another secret', () => {
    const now = () => 5_000_000
    const ours = createDpopNonces({ secret: SECRET, now })
    const theirs = createDpopNonces({ secret: `${SECRET}-other`, now })
    expect(ours.accepts(undefined)).toBe(false)
    expect(ours.accepts(theirs.current())).toBe(false)
  })

  it('nodes sharing the secret hand out and accept the same nonce (stateless)', () => {
    const now = () => 7_000_000
    const [a, b] = [
      createDpopNonces({ secret: SECRET, now }),
      createDpopNonces({ secret: SECRET, now }),
    ]
    expect(b.accepts(a.current())).toBe(true)
    expect(a.current()).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('a secret shorter than 32 characters is a TypeError', () => {
    expect(() => createDpopNonces({ secret: 'short' })).toThrow(TypeError)
  })
})
