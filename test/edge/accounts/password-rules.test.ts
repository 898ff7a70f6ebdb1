import { describe, expect, it } from 'vitest'
import commonPasswords from '../../../edge/accounts/common-passwords.json' with { type: 'json' }
import { assertStrongPassword, failedPasswordRule } from '../../../edge/accounts/password-rules.ts'

describe('new-password rules (docs/protocol.md §13)', () => {
  it('ships exactly 10,000 distinct entries, most common first', () => {
    expect(commonPasswords).toHaveLength(10_000)
    expect(new Set(commonPasswords).size).toBe(10_000)
    expect(commonPasswords.slice(0, 3)).toEqual(['123456', 'password', '12345678'])
  })

  it.each([
    ['7 characters', 'Ab1-xyz', 'alice', 'length'],
    ['1025 characters', 'a'.repeat(1025), 'alice', 'length'],
    ['7 code points though 8 UTF-16 units', 'ab😀cdef'.slice(0, 8), 'alice', 'length'],
    ['the username', 'alice-the-great', 'alice-the-great', 'not_username'],
    [
      'the username in another case and width',
      'ＡＬＩＣＥ-the-great',
      'alice-the-great',
      'not_username',
    ],
    ['a common password', 'password', 'alice', 'not_common'],
    ['a common password in upper case', 'PASSWORD1', 'alice', 'not_common'],
  ])('%s', (_, password, username, rule) => {
    expect(failedPasswordRule(password, username)).toBe(rule)
  })

  it('accepts 8 characters that are in no rule, and exactly 1024', () => {
    expect(failedPasswordRule('kq3-Wz8v', 'alice')).toBeUndefined()
    expect(failedPasswordRule('k'.repeat(1023) + 'q', 'alice')).toBeUndefined()
  })

  it('checks a common password found far down the list', () => {
    const deep = commonPasswords.find((p, i) => i > 9000 && [...p].length >= 8)!
    expect(failedPasswordRule(deep, 'alice')).toBe('not_common')
  })

  it('throws weak_password naming the rule, never the password', () => {
    try {
      assertStrongPassword('qwertyuiop', 'alice')
      expect.unreachable()
    } catch (err) {
      expect(err).toMatchObject({ code: 'weak_password' })
      expect((err as Error).message).toMatch(/most common/)
      expect((err as Error).message).not.toContain('qwertyuiop')
    }
  })
})
