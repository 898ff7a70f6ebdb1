/**
 * Discovery (docs/protocol.md §12) against the fetcher itself, with an
 * injected fetch: the document must name the configured issuer and an
 * http(s) `jwks_uri`; redirects are not followed; the body is bounded.
 */
import { describe, expect, it } from 'vitest'
import { DISCOVERY_MAX_BYTES } from '../../../../realtime/constants.ts'
import { discoverJwksUri } from '../../../../realtime/auth/issuers/discovery.ts'

const ISSUER = 'https://tenant.example/'
const URL_ = `${ISSUER}.well-known/openid-configuration`

/** A fetch answering `body` with `status`, recording the init it was given. */
function answering(body: unknown, status = 200, headers: Record<string, string> = {}) {
  const seen: RequestInit[] = []
  const fetch = (async (_url: string, init: RequestInit) => {
    seen.push(init)
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers })
  }) as unknown as typeof globalThis.fetch
  return { fetch, seen }
}

describe('discoverJwksUri', () => {
  it('returns jwks_uri of a document naming the issuer, without following redirects', async () => {
    const { fetch, seen } = answering({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}.well-known/jwks.json`,
    })
    expect(await discoverJwksUri(URL_, { issuer: ISSUER, fetch })).toBe(
      `${ISSUER}.well-known/jwks.json`,
    )
    expect(seen[0]).toMatchObject({ redirect: 'manual' })
  })

  it.each([
    [
      'another issuer',
      answering({ issuer: 'https://evil.example/', jwks_uri: 'https://evil.example/jwks' }),
    ],
    ['no jwks_uri', answering({ issuer: ISSUER })],
    [
      'a jwks_uri that is not http(s)',
      answering({ issuer: ISSUER, jwks_uri: 'file:///etc/passwd' }),
    ],
    ['not JSON', answering('<html>')],
    ['a redirect', answering('', 302, { location: 'https://evil.example/' })],
    ['HTTP 503', answering('', 503)],
    [
      'a body over the bound',
      answering({
        issuer: ISSUER,
        jwks_uri: `${ISSUER}jwks`,
        pad: 'x'.repeat(DISCOVERY_MAX_BYTES),
      }),
    ],
    [
      'a Content-Length over the bound',
      answering('{}', 200, { 'content-length': String(DISCOVERY_MAX_BYTES + 1) }),
    ],
  ])('refuses %s as unavailable', async (_, { fetch }) => {
    await expect(discoverJwksUri(URL_, { issuer: ISSUER, fetch })).rejects.toMatchObject({
      code: 'unavailable',
    })
  })

  it('gives up after timeoutMs when the server never answers', async () => {
    const fetch = (() => new Promise(() => {})) as unknown as typeof globalThis.fetch
    await expect(
      discoverJwksUri(URL_, { issuer: ISSUER, fetch, timeoutMs: 20 }),
    ).rejects.toMatchObject({
      code: 'unavailable',
    })
  })
})
