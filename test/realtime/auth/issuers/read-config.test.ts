/**
 * TRUSTED_ISSUERS / TRUSTED_ISSUERS_FILE (docs/protocol.md §12): parsed
 * through the service configuration, one problem line per error, naming the
 * entry and the field but never a value.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigErrors, readServiceConfig } from '../../../../realtime/config.ts'
import { readTrustedIssuers } from '../../../../realtime/auth/issuers/read-config.ts'

const AUTH0 = {
  issuer: 'https://tenant.eu.auth0.com/',
  discovery: 'https://tenant.eu.auth0.com/.well-known/openid-configuration',
  audience: 'https://realtime.example.com',
  algorithms: ['RS256'],
  scopeClaim: 'permissions',
  roomsClaim: 'https://example.com/rooms',
}

/** The problem lines `env` gives, with the default edge issuer. */
function problemsOf(env: Record<string, string>): string[] {
  const problems: string[] = []
  readTrustedIssuers(env, 'http://127.0.0.1:8787', problems)
  return problems
}

let dir: string | undefined
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
  dir = undefined
})

describe('TRUSTED_ISSUERS', () => {
  it('is absent by default: the edge is the only issuer', () => {
    expect(readServiceConfig({}).server).not.toHaveProperty('trustedIssuers')
  })

  it('reads an Auth0-style tenant with the defaults applied', () => {
    const config = readServiceConfig({ TRUSTED_ISSUERS: JSON.stringify([AUTH0]) })
    expect(config.server.trustedIssuers).toEqual([{ ...AUTH0, requireTyp: true }])
  })

  it('reads the same from TRUSTED_ISSUERS_FILE', async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgegate-issuers-'))
    const file = join(dir, 'issuers.json')
    await writeFile(file, JSON.stringify([{ ...AUTH0, requireTyp: false, scopeClaim: 'scp' }]))
    const config = readServiceConfig({ TRUSTED_ISSUERS_FILE: file })
    expect(config.server.trustedIssuers).toMatchObject([{ requireTyp: false, scopeClaim: 'scp' }])
  })

  it.each([
    ['not JSON', '[{', ['TRUSTED_ISSUERS: not valid JSON']],
    [
      'an HMAC algorithm',
      [{ ...AUTH0, algorithms: ['HS256'] }],
      [
        'TRUSTED_ISSUERS: 0.algorithms.0: expected ("ES256" | "ES384" | "EdDSA" | "RS256" | "PS256")',
      ],
    ],
    [
      'a misspelt key',
      [{ ...AUTH0, jwks_uri: 'https://x/jwks' }],
      ['TRUSTED_ISSUERS: 0.jwks_uri: unknown key'],
    ],
    [
      'both discovery and jwksUri',
      [{ ...AUTH0, jwksUri: 'https://x/jwks' }],
      ['TRUSTED_ISSUERS: 0: expected exactly one of discovery and jwksUri'],
    ],
    [
      'neither',
      [{ ...AUTH0, discovery: undefined }],
      ['TRUSTED_ISSUERS: 0: expected exactly one of discovery and jwksUri'],
    ],
    [
      'a missing audience',
      [{ ...AUTH0, audience: undefined }],
      ['TRUSTED_ISSUERS: 0.audience: missing'],
    ],
    [
      'a non-http issuer',
      [{ ...AUTH0, issuer: 'ftp://x' }],
      ['TRUSTED_ISSUERS: 0.issuer: expected an absolute http(s) URL'],
    ],
    [
      'an unknown scope claim',
      [{ ...AUTH0, scopeClaim: 'roles' }],
      ['TRUSTED_ISSUERS: 0.scopeClaim: expected ("scope" | "scp" | "permissions")'],
    ],
    [
      'the same issuer twice',
      [AUTH0, AUTH0],
      ['TRUSTED_ISSUERS: the list: expected each issuer listed once'],
    ],
    [
      'the edge itself',
      [{ ...AUTH0, issuer: 'http://127.0.0.1:8787' }],
      ['TRUSTED_ISSUERS: 0.issuer: the edge (ISSUER) is always trusted; do not list it'],
    ],
    [
      'more than 16 issuers',
      Array.from({ length: 17 }, (_, i) => ({ ...AUTH0, issuer: `https://t${i}.example/` })),
      ['TRUSTED_ISSUERS: the list: Invalid length: Expected <=16'],
    ],
  ])('refuses %s with one problem line each', (_, value, problems) => {
    expect(
      problemsOf({ TRUSTED_ISSUERS: typeof value === 'string' ? value : JSON.stringify(value) }),
    ).toEqual(problems)
  })

  it('refuses both variables at once, and a file that cannot be read', () => {
    expect(problemsOf({ TRUSTED_ISSUERS: '[]', TRUSTED_ISSUERS_FILE: '/nonexistent' })).toEqual([
      'TRUSTED_ISSUERS and TRUSTED_ISSUERS_FILE: set one, not both',
    ])
    expect(problemsOf({ TRUSTED_ISSUERS_FILE: '/nonexistent/issuers.json' })).toEqual([
      'TRUSTED_ISSUERS_FILE (/nonexistent/issuers.json): cannot be read (ENOENT)',
    ])
  })

  it('stops the service configuration with those lines', () => {
    const env = { TRUSTED_ISSUERS: JSON.stringify([{ ...AUTH0, algorithms: ['none'] }]) }
    expect(() => readServiceConfig(env)).toThrow(ConfigErrors)
    expect(() => readServiceConfig(env)).toThrow(problemsOf(env)[0])
  })

  it('never echoes a value in a problem', () => {
    const problems = problemsOf({
      TRUSTED_ISSUERS: JSON.stringify([{ ...AUTH0, audience: 'secret value with spaces' }]),
    })
    expect(problems).toHaveLength(1)
    expect(problems[0]).not.toContain('secret')
  })
})
