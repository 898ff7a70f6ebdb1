import { env } from 'cloudflare:workers'
import { SignJWT, base64url, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { getSigningKey, mintAccessToken } from '../../../edge/keys/signer.ts'
import {
  call,
  createUser,
  expectBearerChallenge,
  expectError,
  feed,
  loginOk,
  postJson,
  refresh,
  sidOf,
  type TestUser,
} from '../support.ts'

let alice: TestUser

beforeAll(async () => {
  alice = await createUser()
})

function logoutWithBearer(token: string, init: RequestInit = {}) {
  return call('/auth/logout', {
    method: 'POST',
    ...init,
    headers: { authorization: `Bearer ${token}` },
  })
}

async function sessionEvents(sid: string) {
  return (await feed(0)).events.filter((e) => e.kind === 'session' && e.id === sid)
}

async function session(sid: string) {
  return env.DB.prepare('SELECT revoked_at, revoked_why FROM sessions WHERE sid = ?')
    .bind(sid)
    .first<{ revoked_at: number | null; revoked_why: string | null }>()
}

/** An access token signed by the edge's real active key, with chosen claims and clock. */
async function mintWithEdgeKey(
  claims: { sub: string; sid: string },
  options: { now?: number; audience?: string; issuer?: string } = {},
) {
  const now = options.now ?? Math.floor(Date.now() / 1000)
  const signer = await getSigningKey(env, Math.floor(Date.now() / 1000))
  return mintAccessToken(
    signer,
    { ...claims, name: alice.username, scope: alice.scope, rooms: alice.rooms },
    {
      issuer: options.issuer ?? env.ISSUER,
      audience: options.audience ?? 'realtime',
      ttlSeconds: 300,
      now,
    },
  )
}

describe('POST /auth/logout with a refresh token', () => {
  it('answers 204 with no body, revokes the session, and its refresh tokens then fail', async () => {
    const tokens = await loginOk(alice)
    const res = await postJson('/auth/logout', { refresh_token: tokens.refresh_token })
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect(await session(sidOf(tokens))).toMatchObject({ revoked_why: 'logout' })
    await expectError(await refresh(tokens.refresh_token), 401, 'invalid_grant')
  })

  it('revokes the whole family, including a token issued by an earlier rotation', async () => {
    const first = await loginOk(alice)
    const second = (await (await refresh(first.refresh_token)).json()) as TokenResponse
    expect((await postJson('/auth/logout', { refresh_token: second.refresh_token })).status).toBe(
      204,
    )
    await expectError(await refresh(second.refresh_token), 401, 'invalid_grant')
  })

  it('accepts an already-spent token of the session, since logout only ends it', async () => {
    const first = await loginOk(alice)
    const second = (await (await refresh(first.refresh_token)).json()) as TokenResponse
    expect((await postJson('/auth/logout', { refresh_token: first.refresh_token })).status).toBe(
      204,
    )
    await expectError(await refresh(second.refresh_token), 401, 'invalid_grant')
  })

  it('records one session revocation event, and a second logout is 204 without another', async () => {
    const tokens = await loginOk(alice)
    const sid = sidOf(tokens)
    expect((await postJson('/auth/logout', { refresh_token: tokens.refresh_token })).status).toBe(
      204,
    )
    const events = await sessionEvents(sid)
    expect(events).toEqual([
      {
        cursor: expect.any(Number),
        kind: 'session',
        id: sid,
        at: expect.any(Number),
        until: expect.any(Number),
      },
    ])
    expect(events[0]!.until - events[0]!.at).toBeGreaterThanOrEqual(300)
    expect((await postJson('/auth/logout', { refresh_token: tokens.refresh_token })).status).toBe(
      204,
    )
    expect(await sessionEvents(sid)).toHaveLength(1)
  })

  it('leaves the user’s other sessions alive', async () => {
    const a = await loginOk(alice)
    const b = await loginOk(alice)
    expect((await postJson('/auth/logout', { refresh_token: a.refresh_token })).status).toBe(204)
    expect((await refresh(b.refresh_token)).status).toBe(200)
  })

  it('answers 401 invalid_grant for an unknown refresh token, without echoing it', async () => {
    const token = base64url.encode(crypto.getRandomValues(new Uint8Array(32)))
    await expectError(
      await postJson('/auth/logout', { refresh_token: token }),
      401,
      'invalid_grant',
      [token],
    )
  })
})

describe('POST /auth/logout with a bearer access token', () => {
  it('answers 204 with no request body, revokes the session and records the event', async () => {
    const tokens = await loginOk(alice)
    const sid = sidOf(tokens)
    const res = await logoutWithBearer(tokens.access_token)
    expect(res.status).toBe(204)
    expect(await session(sid)).toMatchObject({ revoked_why: 'logout' })
    await expectError(await refresh(tokens.refresh_token), 401, 'invalid_grant')
    expect(await sessionEvents(sid)).toHaveLength(1)
  })

  it('accepts a lower-case bearer scheme', async () => {
    const tokens = await loginOk(alice)
    const res = await call('/auth/logout', {
      method: 'POST',
      headers: { authorization: `bearer ${tokens.access_token}` },
    })
    expect(res.status).toBe(204)
  })

  const hostile: [string, () => Promise<string>][] = [
    ['garbage', async () => 'not-a-token'],
    ['a refresh token', async () => (await loginOk(alice)).refresh_token],
    [
      'an expired token signed by the edge',
      async () =>
        mintWithEdgeKey(
          { sub: alice.sub, sid: crypto.randomUUID() },
          { now: Math.floor(Date.now() / 1000) - 3600 },
        ),
    ],
    [
      'a token signed by the edge for another audience',
      async () =>
        mintWithEdgeKey({ sub: alice.sub, sid: crypto.randomUUID() }, { audience: 'someone-else' }),
    ],
    [
      'a token signed by the edge for another issuer',
      async () =>
        mintWithEdgeKey(
          { sub: alice.sub, sid: crypto.randomUUID() },
          { issuer: 'https://evil.test' },
        ),
    ],
    [
      'a token whose payload was changed after signing',
      async () => {
        const real = (await loginOk(alice)).access_token
        const [h, , s] = real.split('.')
        const forged = { ...decodeJwt(real), sid: crypto.randomUUID() }
        return `${h}.${base64url.encode(JSON.stringify(forged))}.${s}`
      },
    ],
    [
      'a token with its signature cut off',
      async () => (await loginOk(alice)).access_token.split('.').slice(0, 2).join('.') + '.',
    ],
    [
      'an alg:none token',
      async () => {
        const real = (await loginOk(alice)).access_token
        const header = { ...decodeProtectedHeader(real), alg: 'none' }
        return `${base64url.encode(JSON.stringify(header))}.${real.split('.')[1]}.`
      },
    ],
    [
      "a token signed by an attacker's key under the edge's kid",
      async () => {
        const real = (await loginOk(alice)).access_token
        const { privateKey } = await generateKeyPair('ES256')
        return new SignJWT(decodeJwt(real))
          .setProtectedHeader({
            alg: 'ES256',
            typ: 'at+jwt',
            kid: decodeProtectedHeader(real).kid!,
          })
          .sign(privateKey)
      },
    ],
    [
      'an HS256 token keyed with the public JWK',
      async () => {
        const real = (await loginOk(alice)).access_token
        const jwks = (await (await call('/.well-known/jwks.json')).json()) as { keys: object[] }
        const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]))
        return new SignJWT(decodeJwt(real))
          .setProtectedHeader({
            alg: 'HS256',
            typ: 'at+jwt',
            kid: decodeProtectedHeader(real).kid!,
          })
          .sign(secret)
      },
    ],
  ]

  it.each(hostile)('answers 401 invalid_grant with a bearer challenge for %s', async (_, make) => {
    const token = await make()
    const res = await logoutWithBearer(token)
    expectBearerChallenge(res)
    await expectError(res, 401, 'invalid_grant', [token])
  })

  it('does not revoke the session named in a forged token', async () => {
    const tokens = await loginOk(alice)
    const sid = sidOf(tokens)
    const [h, p, s] = tokens.access_token.split('.')
    const tampered = `${h}.${p!.slice(0, -2)}${p!.endsWith('A') ? 'B' : 'A'}${p!.slice(-1)}.${s}`
    const res = await logoutWithBearer(tampered)
    expect(res.status).toBe(401)
    expect(await session(sid)).toEqual({ revoked_at: null, revoked_why: null })
    expect((await refresh(tokens.refresh_token)).status).toBe(200)
  })
})

describe('POST /auth/logout: malformed requests', () => {
  it('answers 400 invalid_request with neither a refresh token nor a bearer', async () => {
    await expectError(await call('/auth/logout', { method: 'POST' }), 400, 'invalid_request')
  })

  it('answers 400 invalid_request for an empty JSON object and no bearer', async () => {
    await expectError(await postJson('/auth/logout', {}), 400, 'invalid_request')
  })

  it('answers 400 invalid_request for a non-bearer Authorization header and no body', async () => {
    const res = await call('/auth/logout', {
      method: 'POST',
      headers: { authorization: `Basic ${btoa(`${alice.username}:${alice.password}`)}` },
    })
    await expectError(res, 400, 'invalid_request', [alice.password])
  })

  it.each([
    ['a numeric token', { refresh_token: 1 }],
    ['a null token', { refresh_token: null }],
    ['an empty token', { refresh_token: '' }],
    ['an extra key', { refresh_token: 'abc', everywhere: true }],
    ['an array body', []],
    ['a null body', null],
  ])('answers 400 invalid_request for %s', async (_, body) => {
    await expectError(await postJson('/auth/logout', body), 400, 'invalid_request')
  })

  it('answers 415 for a body without a JSON content type', async () => {
    const res = await call('/auth/logout', { method: 'POST', body: new TextEncoder().encode('{}') })
    await expectError(res, 415, 'unsupported_media_type')
  })
})
