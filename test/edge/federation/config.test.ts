import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../../edge/config-error.ts'
import { FEDERATION_PROVIDERS_MAX } from '../../../edge/constants.ts'
import { readFederationConfig } from '../../../edge/federation/config.ts'

const entry = {
  id: 'corp',
  issuer: 'https://idp.example.com',
  clientId: 'edge',
  clientSecret: 'a-client-secret-value',
}
const read = (list: unknown, returnUrls = 'https://app.example.com/') =>
  readFederationConfig({ FEDERATION: JSON.stringify(list), ALLOWED_RETURN_URLS: returnUrls })

describe('readFederationConfig (FEDERATION, ALLOWED_RETURN_URLS)', () => {
  it('has no providers when FEDERATION is unset or empty', () => {
    expect(readFederationConfig({})).toEqual({ providers: [], returnUrls: [] })
    expect(readFederationConfig({ FEDERATION: '' }).providers).toEqual([])
  })

  it('fills the defaults: openid among the scopes, no sign-up, the id as the name', () => {
    expect(read([{ ...entry, scopes: ['email'] }])).toEqual({
      providers: [
        {
          ...entry,
          scopes: ['openid', 'email'],
          allowSignup: false,
          name: 'corp',
          insecure: false,
        },
      ],
      returnUrls: ['https://app.example.com/'],
    })
  })

  it('accepts plain http for a loopback issuer only', () => {
    expect(read([{ ...entry, issuer: 'http://127.0.0.1:8791' }]).providers[0]?.insecure).toBe(true)
    expect(() => read([{ ...entry, issuer: 'http://idp.example.com' }])).toThrow(ConfigError)
  })

  it.each([
    ['not JSON', '{'],
    ['not a list', '{}'],
    ['an entry without a secret', [{ ...entry, clientSecret: undefined }]],
    ['an unknown field', [{ ...entry, secret: 'x' }]],
    ['an id with capitals', [{ ...entry, id: 'Corp' }]],
    ['an id used twice', [entry, entry]],
    ['an issuer with a query', [{ ...entry, issuer: 'https://idp.example.com/?x=1' }]],
    ['an issuer that is not a URL', [{ ...entry, issuer: 'idp.example.com' }]],
    ['allowSignup as a string', [{ ...entry, allowSignup: 'yes' }]],
    ['a scope with a space', [{ ...entry, scopes: ['openid email'] }]],
    [
      'too many providers',
      Array.from({ length: FEDERATION_PROVIDERS_MAX + 1 }, (_, i) => ({ ...entry, id: `p${i}` })),
    ],
  ])('refuses %s with a ConfigError that never quotes the secret', (_name, value) => {
    const raw = typeof value === 'string' ? value : JSON.stringify(value)
    let error: unknown
    try {
      readFederationConfig({ FEDERATION: raw, ALLOWED_RETURN_URLS: 'https://app.example.com/' })
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).toMatch(/^FEDERATION/)
    expect((error as Error).message).not.toContain(entry.clientSecret)
  })

  it('needs ALLOWED_RETURN_URLS once a provider is configured', () => {
    expect(() => read([entry], '')).toThrow(/ALLOWED_RETURN_URLS/)
  })

  it.each(['/relative', 'javascript:alert(1)', 'https://app.example.com/#frag'])(
    'refuses %s in ALLOWED_RETURN_URLS',
    (url) => {
      expect(() => read([entry], url)).toThrow(/ALLOWED_RETURN_URLS/)
    },
  )
})
