import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { ConfigError, readConfig } from '../../edge/config.ts'

function withVars(vars: Record<string, string>) {
  return { ...env, ...vars } as unknown as Env
}

describe('readConfig', () => {
  it('reads the defaults of wrangler.toml', () => {
    expect(readConfig(withVars({}))).toMatchObject({
      issuer: env.ISSUER,
      audience: 'realtime',
      accessTokenTtlSeconds: 300,
      jwksMaxAgeSeconds: 300,
      signingAlg: 'ES256',
    })
  })

  it('reads SERVICE_TOKEN_TTL: 300 s in wrangler.toml, up to 900', () => {
    expect(readConfig(withVars({})).serviceTokenTtlSeconds).toBe(300)
    expect(readConfig(withVars({ SERVICE_TOKEN_TTL: '900' })).serviceTokenTtlSeconds).toBe(900)
  })

  it('reads DEMO_EVENTS_URL: none in wrangler.toml (no events panel), else the URL', () => {
    expect(readConfig(withVars({})).demoEventsUrl).toBeUndefined()
    const url = 'http://127.0.0.1:8790/events'
    expect(readConfig(withVars({ DEMO_EVENTS_URL: url })).demoEventsUrl).toBe(url)
  })

  it('accepts a list of audiences', () => {
    expect(readConfig(withVars({ AUDIENCE: 'realtime, api' })).audience).toEqual([
      'realtime',
      'api',
    ])
  })

  it.each([
    ['ACCESS_TOKEN_TTL', '3601', /ACCESS_TOKEN_TTL must be between/],
    ['ACCESS_TOKEN_TTL', '5m', /ACCESS_TOKEN_TTL must be a whole number/],
    ['JWKS_MAX_AGE', '-1', /JWKS_MAX_AGE must be a whole number/],
    // Verifiers floor a shorter max-age at 1 s: the edge must not publish one they will not honour.
    ['JWKS_MAX_AGE', '0', /JWKS_MAX_AGE must be between 1 and/],
    ['SIGNING_ALG', 'HS256', /SIGNING_ALG must be one of ES256, EdDSA, RS256/],
    ['SIGNING_ALG', 'none', /SIGNING_ALG must be one of/],
    ['ISSUER', 'not a url', /ISSUER must be an absolute URL/],
    ['ISSUER', 'ftp://edge', /ISSUER must be http/],
    ['ISSUER', '', /ISSUER is required/],
    ['SERVICE_TOKEN_TTL', '901', /SERVICE_TOKEN_TTL must be between/],
    ['SERVICE_TOKEN_TTL', '9', /SERVICE_TOKEN_TTL must be between/],
    ['AUDIENCE', 'realtime,realtime-api', /AUDIENCE must not include realtime-api/],
    ['DEMO_EVENTS_URL', 'javascript:alert(1)', /DEMO_EVENTS_URL must be an http\(s\) URL/],
    ['DEMO_EVENTS_URL', '127.0.0.1:8790/events', /DEMO_EVENTS_URL must be an http\(s\) URL/],
  ])('refuses %s=%j with an error naming the variable', (name, value, message) => {
    expect(() => readConfig(withVars({ [name]: value }))).toThrow(ConfigError)
    expect(() => readConfig(withVars({ [name]: value }))).toThrow(message)
  })
})
