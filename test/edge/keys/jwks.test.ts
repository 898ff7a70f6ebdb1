import { env, exports } from 'cloudflare:workers'
import { createRemoteJWKSet, customFetch, jwtVerify } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'

const BASE = 'http://edge.test'
const ADMIN = { authorization: `Bearer ${env.ADMIN_TOKEN}` }
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']

function get(path: string, headers: Record<string, string> = {}) {
  return exports.default.fetch(`${BASE}${path}`, { headers })
}

async function loginAs(username: string, password: string) {
  const res = await exports.default.fetch(`${BASE}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as { access_token: string }
}

beforeAll(async () => {
  const res = await exports.default.fetch(`${BASE}/admin/users`, {
    method: 'POST',
    headers: { ...ADMIN, 'content-type': 'application/json' },
    body: JSON.stringify({
      username: 'jwks-user',
      password: 'jwks-password-1',
      scope: 'chat:read',
      rooms: ['lobby'],
    }),
  })
  expect(res.status).toBe(201)
})

describe('GET /.well-known/jwks.json', () => {
  it('publishes the active and next keys, public parameters only, with cache and CORS headers', async () => {
    const res = await get('/.well-known/jwks.json')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${env.JWKS_MAX_AGE}`)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(res.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/)
    const body = (await res.json()) as { keys: Record<string, unknown>[] }
    expect(body.keys).toHaveLength(2)
    for (const key of body.keys) {
      expect(key).toMatchObject({
        kty: 'EC',
        crv: 'P-256',
        alg: 'ES256',
        use: 'sig',
        kid: expect.any(String),
      })
      for (const m of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(m)
    }
  })

  it('answers 304 with no body to a matching If-None-Match, and 200 to a stale one', async () => {
    const etag = (await get('/.well-known/jwks.json')).headers.get('etag')!
    const same = await get('/.well-known/jwks.json', { 'if-none-match': etag })
    expect(same.status).toBe(304)
    expect(same.headers.get('etag')).toBe(etag)
    expect(same.headers.get('cache-control')).toBe(`public, max-age=${env.JWKS_MAX_AGE}`)
    expect(await same.text()).toBe('')
    expect((await get('/.well-known/jwks.json', { 'if-none-match': `W/${etag}` })).status).toBe(304)
    expect(
      (await get('/.well-known/jwks.json', { 'if-none-match': '"stale", ' + etag })).status,
    ).toBe(304)
    expect((await get('/.well-known/jwks.json', { 'if-none-match': '"stale"' })).status).toBe(200)
  })

  it('changes its ETag when the key set changes', async () => {
    const before = (await get('/.well-known/jwks.json')).headers.get('etag')
    const rotate = await exports.default.fetch(`${BASE}/admin/keys/rotate`, {
      method: 'POST',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify({ emergency: true }),
    })
    expect(rotate.status).toBe(200)
    expect((await get('/.well-known/jwks.json')).headers.get('etag')).not.toBe(before)
  })

  it('verifies login tokens with jose createRemoteJWKSet fetching the served JWKS', async () => {
    const { access_token } = await loginAs('jwks-user', 'jwks-password-1')
    const keys = createRemoteJWKSet(new URL(`${BASE}/.well-known/jwks.json`), {
      [customFetch]: (url: string, init: RequestInit) => exports.default.fetch(url, init),
    })
    const { payload, protectedHeader } = await jwtVerify(access_token, keys, {
      issuer: env.ISSUER,
      audience: 'realtime',
      algorithms: ['ES256'],
      typ: 'at+jwt',
      requiredClaims: ['sub', 'sid', 'jti', 'iat', 'nbf', 'exp'],
    })
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) })
    expect(payload).toMatchObject({ name: 'jwks-user', scope: 'chat:read', rooms: ['lobby'] })
    expect(payload.exp! - payload.iat!).toBe(Number(env.ACCESS_TOKEN_TTL))
  })
})

describe('GET /.well-known/openid-configuration', () => {
  it('names the issuer, the JWKS and the token endpoint', async () => {
    const res = await get('/.well-known/openid-configuration')
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    const doc = (await res.json()) as Record<string, unknown>
    expect(doc).toMatchObject({
      issuer: env.ISSUER,
      jwks_uri: `${env.ISSUER}/.well-known/jwks.json`,
      token_endpoint: `${env.ISSUER}/auth/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    })
    expect(doc.id_token_signing_alg_values_supported).toContain('ES256')
    expect(doc.id_token_signing_alg_values_supported).not.toContain('none')
  })
})
