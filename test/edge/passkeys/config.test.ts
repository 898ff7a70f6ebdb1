import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../edge/config-error.ts'
import { readPasskeyConfig } from '../../../edge/passkeys/config.ts'

describe('readPasskeyConfig (RP_ID, RP_ORIGINS)', () => {
  it("defaults to the issuer's host name and origin", () => {
    expect(readPasskeyConfig({}, 'https://auth.example.com:8443/base')).toEqual({
      rpId: 'auth.example.com',
      origins: ['https://auth.example.com:8443'],
      rpName: 'edgegate',
    })
  })

  it('takes an RP id and several origins on it or its subdomains', () => {
    expect(
      readPasskeyConfig(
        { RP_ID: 'example.com', RP_ORIGINS: 'https://example.com, https://app.example.com' },
        'https://auth.example.com',
      ),
    ).toMatchObject({
      rpId: 'example.com',
      origins: ['https://example.com', 'https://app.example.com'],
    })
  })

  it.each([
    [{ RP_ID: 'https://example.com' }],
    [{ RP_ID: 'example.com:443' }],
    [{ RP_ORIGINS: 'https://example.com/path' }],
    [{ RP_ORIGINS: 'not a url' }],
    [{ RP_ORIGINS: ' , ' }],
    [{ RP_ID: 'example.com', RP_ORIGINS: 'https://evilexample.com' }],
  ])('refuses %j with a ConfigError', (vars) => {
    expect(() => readPasskeyConfig(vars, 'https://example.com')).toThrow(ConfigError)
  })
})
