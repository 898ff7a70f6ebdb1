import { env } from 'cloudflare:workers'
import { createLocalJWKSet, jwtVerify, SignJWT, generateKeyPair } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { getSigningKey } from '../../../edge/keys/signer.ts'
import {
  call,
  createUser,
  expectBearerChallenge,
  expectError,
  loginOk,
  postJson,
} from '../support.ts'
import { createClient, disableClient, serviceToken, type TestClient } from '../service-support.ts'

function grantRequest(token: string, body: unknown) {
  return postJson('/auth/room-grants', body, { authorization: `Bearer ${token}` })
}

async function jwks() {
  return createLocalJWKSet((await (await call('/.well-known/jwks.json')).json()) as { keys: [] })
}

let granter: TestClient
let token: string

beforeAll(async () => {
  granter = await createClient('grants')
  token = (await serviceToken(granter)).access_token
})

describe('POST /auth/room-grants', () => {
  it('signs a room+jwt grant bound to sub, sid and exact rooms, for the calling client', async () => {
    const res = await grantRequest(token, {
      sub: 'user-1',
      sid: 'session-1',
      rooms: ['doc:42', 'doc:43'],
      ttl: 120,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as { grant: string; expires_in: number }
    expect(Object.keys(body).sort()).toEqual(['expires_in', 'grant'])
    expect(body.expires_in).toBe(120)
    const { payload, protectedHeader } = await jwtVerify(body.grant, await jwks(), {
      algorithms: ['ES256'],
      typ: 'room+jwt',
      issuer: env.ISSUER,
      audience: 'realtime',
      requiredClaims: ['sub', 'rooms', 'client_id', 'iat', 'exp', 'jti'],
    })
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'room+jwt', kid: expect.any(String) })
    expect(payload).toEqual({
      iss: env.ISSUER,
      aud: 'realtime',
      sub: 'user-1',
      sid: 'session-1',
      rooms: ['doc:42', 'doc:43'],
      client_id: granter.client_id,
      iat: expect.any(Number),
      exp: payload.iat! + 120,
      jti: expect.any(String),
    })
  })

  it('defaults the lifetime to 300 s and leaves out sid when none is given', async () => {
    const res = await grantRequest(token, { sub: 'user-2', rooms: ['doc:1'] })
    const body = (await res.json()) as { grant: string; expires_in: number }
    expect(body.expires_in).toBe(300)
    const { payload } = await jwtVerify(body.grant, await jwks(), {
      issuer: env.ISSUER,
      audience: 'realtime',
    })
    expect(payload.exp! - payload.iat!).toBe(300)
    expect(payload).not.toHaveProperty('sid')
  })

  it('a grant is never an access token: a verifier that requires at+jwt refuses it', async () => {
    const { grant } = (await (
      await grantRequest(token, { sub: 'u', rooms: ['doc:1'] })
    ).json()) as { grant: string }
    await expect(
      jwtVerify(grant, await jwks(), { typ: 'at+jwt', issuer: env.ISSUER }),
    ).rejects.toMatchObject({
      code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
      claim: 'typ',
    })
  })

  it('answers 403 forbidden to a service token without the grants scope', async () => {
    const publisher = await createClient('publish disconnect')
    const res = await grantRequest((await serviceToken(publisher)).access_token, {
      sub: 'u',
      rooms: ['doc:1'],
    })
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope"')
    await expectError(res, 403, 'forbidden')
  })

  it('answers 403 to a grants client whose token was narrowed to another scope', async () => {
    const both = await createClient('publish grants')
    const res = await grantRequest((await serviceToken(both, 'publish')).access_token, {
      sub: 'u',
      rooms: ['a'],
    })
    await expectError(res, 403, 'forbidden')
  })

  it('answers 401 to a user access token', async () => {
    const user = await createUser()
    const { access_token } = await loginOk(user)
    const res = await grantRequest(access_token, { sub: user.sub, rooms: ['doc:1'] })
    expectBearerChallenge(res)
    await expectError(res, 401, 'unauthorized', [access_token])
  })

  it('answers 401 to the token of a client disabled after it was issued', async () => {
    const doomed = await createClient('grants')
    const doomedToken = (await serviceToken(doomed)).access_token
    expect((await grantRequest(doomedToken, { sub: 'u', rooms: ['a'] })).status).toBe(200)
    await disableClient(doomed.client_id)
    const res = await grantRequest(doomedToken, { sub: 'u', rooms: ['a'] })
    expectBearerChallenge(res)
    await expectError(res, 401, 'unauthorized')
  })

  it('answers 401 to a token signed by a key the edge never published, and to alg none', async () => {
    const { privateKey } = await generateKeyPair('ES256')
    const now = Math.floor(Date.now() / 1000)
    const claims = { client_id: granter.client_id, scope: 'grants' }
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'forged' })
      .setIssuer(env.ISSUER)
      .setAudience('realtime-api')
      .setSubject(granter.client_id)
      .setJti('j')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .sign(privateKey)
    const b64 = (o: object) =>
      btoa(JSON.stringify(o)).replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_')
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid: 'x' })}.${forged.split('.')[1]}.`
    for (const bad of [forged, none, 'not-a-token', `${token}x`]) {
      await expectError(await grantRequest(bad, { sub: 'u', rooms: ['a'] }), 401, 'unauthorized')
    }
    const missing = await postJson('/auth/room-grants', { sub: 'u', rooms: ['a'] })
    expectBearerChallenge(missing)
    await expectError(missing, 401, 'unauthorized')
  })

  it('answers 401 to tokens signed by the edge key with every service claim but the wrong aud, typ or iss', async () => {
    const now = Math.floor(Date.now() / 1000)
    const signer = await getSigningKey(env, now)
    const sign = (header: { typ: string }, aud: string, iss = env.ISSUER) =>
      new SignJWT({ client_id: granter.client_id, scope: 'grants' })
        .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header })
        .setIssuer(iss)
        .setAudience(aud)
        .setSubject(granter.client_id)
        .setJti(crypto.randomUUID())
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + 60)
        .sign(signer.key)
    // The control: the same construction with the right values is accepted.
    const good = await sign({ typ: 'at+jwt' }, 'realtime-api')
    expect((await grantRequest(good, { sub: 'u', rooms: ['a'] })).status).toBe(200)
    for (const bad of [
      await sign({ typ: 'at+jwt' }, 'realtime'),
      await sign({ typ: 'room+jwt' }, 'realtime-api'),
      await sign({ typ: 'revocation+jwt' }, 'realtime-api'),
      await sign({ typ: 'at+jwt' }, 'realtime-api', 'https://evil.example'),
    ]) {
      await expectError(await grantRequest(bad, { sub: 'u', rooms: ['a'] }), 401, 'unauthorized')
    }
  })

  it('checks the token before it reads the body', async () => {
    const res = await call('/auth/room-grants', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    })
    await expectError(res, 401, 'unauthorized')
  })

  it.each([
    ['no rooms', { sub: 'u', rooms: [] }],
    ['21 rooms', { sub: 'u', rooms: Array.from({ length: 21 }, (_, i) => `r${i}`) }],
    ['a room pattern', { sub: 'u', rooms: ['team:a:*'] }],
    ['the * pattern', { sub: 'u', rooms: ['*'] }],
    ['a user: room', { sub: 'u', rooms: ['user:x'] }],
    ['a session: room', { sub: 'u', rooms: ['session:abc'] }],
    ['a room with a space', { sub: 'u', rooms: ['doc 42'] }],
    ['a room of 129 characters', { sub: 'u', rooms: ['r'.repeat(129)] }],
    ['a non-string room', { sub: 'u', rooms: [42] }],
    ['no sub', { rooms: ['a'] }],
    ['an empty sub', { sub: '', rooms: ['a'] }],
    ['a sub with a space', { sub: 'a b', rooms: ['a'] }],
    ['an empty sid', { sub: 'u', sid: '', rooms: ['a'] }],
    ['ttl 0', { sub: 'u', rooms: ['a'], ttl: 0 }],
    ['ttl 3601', { sub: 'u', rooms: ['a'], ttl: 3601 }],
    ['a fractional ttl', { sub: 'u', rooms: ['a'], ttl: 1.5 }],
    ['a string ttl', { sub: 'u', rooms: ['a'], ttl: '60' }],
    ['an unknown field', { sub: 'u', rooms: ['a'], client_id: 'other' }],
    ['a null body', null],
  ])('refuses %s with 400 invalid_request', async (_, body) => {
    await expectError(await grantRequest(token, body), 400, 'invalid_request')
  })

  it('accepts the bounds: 20 rooms, ttl 1 and ttl 3600', async () => {
    const rooms = Array.from({ length: 20 }, (_, i) => `doc:${i}`)
    expect((await grantRequest(token, { sub: 'u', rooms, ttl: 1 })).status).toBe(200)
    expect((await grantRequest(token, { sub: 'u', rooms: ['a'], ttl: 3600 })).status).toBe(200)
  })

  it('answers a non-JSON body with 415 and an oversized one with 413', async () => {
    const auth = { authorization: `Bearer ${token}` }
    const form = await call('/auth/room-grants', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'sub=u&rooms=a',
    })
    await expectError(form, 415, 'unsupported_media_type')
    const big = await grantRequest(token, { sub: 'u', rooms: ['a'], pad: 'x'.repeat(9000) })
    await expectError(big, 413, 'payload_too_large')
  })
})
