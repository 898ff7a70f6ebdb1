import { env } from 'cloudflare:workers'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  CLIENT_ID_MAX_CHARS,
  LOGIN_FAILURES_PER_USER_ADDRESS,
  LOGIN_THROTTLE_WINDOW_SECONDS,
} from '../../../edge/constants.ts'
import { call, expectError, freshAddress } from '../support.ts'
import {
  basic,
  createClient,
  disableClient,
  serviceToken,
  tokenRequest,
  type TestClient,
} from '../service-support.ts'

const GRANT = { grant_type: 'client_credentials' }

/** The whole observable answer: status, the headers a client sees, and the body bytes. */
async function snapshot(res: Response) {
  return {
    status: res.status,
    headers: [...res.headers].filter(([k]) => k !== 'date').sort(),
    body: await res.text(),
  }
}

async function expectInvalidClient(res: Response, secrets: string[] = []) {
  expect(res.headers.get('www-authenticate')).toBe('Basic realm="edgegate", charset="UTF-8"')
  await expectError(res, 401, 'invalid_client', secrets)
}

let client: TestClient

beforeAll(async () => {
  client = await createClient('publish grants')
})

describe('POST /auth/token: success', () => {
  it('issues a service token to a client authenticated with HTTP Basic', async () => {
    const res = await tokenRequest(GRANT, {
      authorization: basic(client.client_id, client.client_secret),
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('pragma')).toBe('no-cache')
    const body = (await res.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type'])
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'publish grants' })
  })

  it('issues a service token to a client authenticated with form fields', async () => {
    const res = await tokenRequest({
      ...GRANT,
      client_id: client.client_id,
      client_secret: client.client_secret,
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { scope: string }).scope).toBe('publish grants')
  })

  it('signs a token that verifies with jose against the JWKS for aud realtime-api, with no sid or rooms', async () => {
    const { access_token } = await serviceToken(client)
    const jwks = (await (await call('/.well-known/jwks.json')).json()) as { keys: [] }
    const { payload, protectedHeader } = await jwtVerify(access_token, createLocalJWKSet(jwks), {
      algorithms: ['ES256'],
      issuer: env.ISSUER,
      audience: 'realtime-api',
      typ: 'at+jwt',
      requiredClaims: ['sub', 'client_id', 'scope', 'jti', 'iat', 'nbf', 'exp'],
    })
    expect(protectedHeader).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) })
    expect(payload).toEqual({
      iss: env.ISSUER,
      aud: 'realtime-api',
      sub: client.client_id,
      client_id: client.client_id,
      scope: 'publish grants',
      jti: expect.any(String),
      iat: expect.any(Number),
      nbf: expect.any(Number),
      exp: payload.iat! + 300,
    })
    await expect(
      jwtVerify(access_token, createLocalJWKSet(jwks), {
        issuer: env.ISSUER,
        audience: 'realtime',
      }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' })
  })

  it('narrows the scope to what is asked, in canonical order', async () => {
    expect((await serviceToken(client, 'grants')).scope).toBe('grants')
    expect((await serviceToken(client, 'grants publish')).scope).toBe('publish grants')
  })

  it('issues events:read (v1.2 §16) to a client that holds it, and not to one that does not', async () => {
    const reader = await createClient('presence:read events:read')
    expect((await serviceToken(reader, 'events:read')).scope).toBe('events:read')
    expect((await serviceToken(reader)).scope).toBe('presence:read events:read')
    const res = await tokenRequest(
      { ...GRANT, scope: 'events:read' },
      { authorization: basic(client.client_id, client.client_secret) },
    )
    await expectError(res, 400, 'invalid_scope')
  })

  it('accepts a form client_id equal to the Basic one', async () => {
    const res = await tokenRequest(
      { ...GRANT, client_id: client.client_id },
      { authorization: basic(client.client_id, client.client_secret) },
    )
    expect(res.status).toBe(200)
  })
})

describe('POST /auth/token: refusals', () => {
  it('answers an unknown client, a wrong secret and a disabled client with byte-identical 401s', async () => {
    const disabled = await createClient('publish')
    await disableClient(disabled.client_id)
    const answers = [
      await tokenRequest(GRANT, { authorization: basic('no-such-client', client.client_secret) }),
      await tokenRequest(GRANT, {
        authorization: basic(client.client_id, `${client.client_secret}x`),
      }),
      await tokenRequest(GRANT, {
        authorization: basic(disabled.client_id, disabled.client_secret),
      }),
      await tokenRequest({ ...GRANT, client_id: client.client_id, client_secret: 'wrong' }),
    ]
    const [first, ...rest] = await Promise.all(answers.map((r) => snapshot(r.clone())))
    for (const other of rest) expect(other).toEqual(first)
    for (const res of answers)
      await expectInvalidClient(res, [client.client_secret, disabled.client_secret])
  })

  it('answers 401 invalid_client when no client authentication is sent', async () => {
    await expectInvalidClient(await tokenRequest(GRANT))
    await expectInvalidClient(await tokenRequest({ ...GRANT, client_id: client.client_id }))
  })

  it('answers 401 invalid_client for an Authorization scheme other than Basic', async () => {
    await expectInvalidClient(
      await tokenRequest(GRANT, { authorization: `Bearer ${client.client_secret}` }),
    )
  })

  it('refuses Basic and form credentials together with 400 invalid_request, without issuing', async () => {
    const res = await tokenRequest(
      { ...GRANT, client_id: client.client_id, client_secret: client.client_secret },
      { authorization: basic(client.client_id, client.client_secret) },
    )
    await expectError(res, 400, 'invalid_request', [client.client_secret])
  })

  it('refuses a form client_id that differs from the Basic one', async () => {
    const res = await tokenRequest(
      { ...GRANT, client_id: 'someone-else' },
      { authorization: basic(client.client_id, client.client_secret) },
    )
    await expectError(res, 400, 'invalid_request')
  })

  it.each([
    ['not base64', 'Basic !!!!'],
    ['base64 without a colon', `Basic ${btoa('no-colon-here')}`],
    ['base64 with bad padding', `Basic ${btoa('a:b').replace(/=+$/, '')}=`],
    ['an empty credential', 'Basic '],
    ['two credentials', `Basic ${btoa('a:b')} ${btoa('c:d')}`],
    ['a lower-case scheme with junk', 'basic a:b'],
    ['an empty id', `Basic ${btoa(':secret')}`],
    ['an empty secret', `Basic ${btoa('id:')}`],
    ['a bad percent-encoding', `Basic ${btoa('id%zz:secret')}`],
    ['bytes that are not UTF-8', `Basic ${btoa('\xff\xfe:secret')}`],
  ])('refuses a malformed Basic header (%s) with 400 invalid_request', async (_, authorization) => {
    await expectError(await tokenRequest(GRANT, { authorization }), 400, 'invalid_request')
  })

  it('decodes form-urlencoded ids and secrets inside Basic (RFC 6749 §2.3.1)', async () => {
    // A secret with '+' sent raw would decode to a space; encoded it must match again.
    const res = await tokenRequest(GRANT, {
      authorization: `Basic ${btoa(`${client.client_id}:${client.client_secret.replaceAll('-', '%2D')}`)}`,
    })
    expect(res.status).toBe(200)
  })

  it.each([
    ['chat:read', 'a user scope'],
    ['disconnect', 'a service scope the client does not hold'],
    ['publish  grants', 'a malformed scope'],
    ['publish nonsense', 'an unknown scope'],
  ])('answers scope=%s (%s) with 400 invalid_scope', async (scope) => {
    const res = await tokenRequest(
      { ...GRANT, scope },
      { authorization: basic(client.client_id, client.client_secret) },
    )
    await expectError(res, 400, 'invalid_scope')
  })

  it('answers a missing grant_type with 400 invalid_request and another with 400 unsupported_grant_type', async () => {
    const auth = { authorization: basic(client.client_id, client.client_secret) }
    await expectError(await tokenRequest({}, auth), 400, 'invalid_request')
    for (const grant_type of [
      'password',
      'refresh_token',
      'authorization_code',
      'CLIENT_CREDENTIALS',
    ]) {
      await expectError(await tokenRequest({ grant_type }, auth), 400, 'unsupported_grant_type')
    }
  })

  it('refuses a parameter sent twice (RFC 6749 §3.2)', async () => {
    const res = await call('/auth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client.client_id, client.client_secret),
      },
      body: 'grant_type=client_credentials&grant_type=client_credentials',
    })
    await expectError(res, 400, 'invalid_request')
  })

  it.each([
    ['JSON', 'application/json', JSON.stringify(GRANT)],
    ['no content type', undefined, 'grant_type=client_credentials'],
    ['multipart', 'multipart/form-data; boundary=x', 'grant_type=client_credentials'],
    [
      'a foreign charset',
      'application/x-www-form-urlencoded; charset=latin1',
      'grant_type=client_credentials',
    ],
  ])('answers a %s body with 415', async (_, type, body) => {
    const res = await call('/auth/token', {
      method: 'POST',
      headers: {
        ...(type && { 'content-type': type }),
        authorization: basic(client.client_id, client.client_secret),
      },
      body,
    })
    await expectError(res, 415, 'unsupported_media_type')
  })

  it('answers a body over 8 KiB with 413 before authenticating', async () => {
    const res = await tokenRequest(
      { ...GRANT, padding: 'x'.repeat(8 * 1024) },
      { authorization: basic(client.client_id, client.client_secret) },
    )
    await expectError(res, 413, 'payload_too_large')
  })

  it('refuses a body that is not UTF-8', async () => {
    const res = await call('/auth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(client.client_id, client.client_secret),
      },
      body: new Uint8Array([0x67, 0x3d, 0xff, 0xfe]),
    })
    await expectError(res, 400, 'invalid_request')
  })
})

describe('POST /auth/token: throttling', () => {
  it('answers 429 with Retry-After after repeated failures for a client from one address, even with the right secret', async () => {
    const target = await createClient('publish')
    const address = freshAddress()
    const from = { 'cf-connecting-ip': address }
    for (let i = 0; i < LOGIN_FAILURES_PER_USER_ADDRESS; i++) {
      await expectInvalidClient(
        await tokenRequest(GRANT, {
          ...from,
          authorization: basic(target.client_id, `wrong-${i}`),
        }),
      )
    }
    const res = await tokenRequest(GRANT, {
      ...from,
      authorization: basic(target.client_id, target.client_secret),
    })
    const retryAfter = res.headers.get('retry-after')
    await expectError(res, 429, 'rate_limited', [target.client_secret])
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
    expect(Number(retryAfter)).toBeLessThanOrEqual(LOGIN_THROTTLE_WINDOW_SECONDS)
    // A stranger's failures elsewhere never lock the client out.
    expect((await serviceToken(target)).scope).toBe('publish')
  })

  it('does not count successful requests', async () => {
    const address = freshAddress()
    for (let i = 0; i < LOGIN_FAILURES_PER_USER_ADDRESS + 2; i++) {
      const res = await tokenRequest(GRANT, {
        'cf-connecting-ip': address,
        authorization: basic(client.client_id, client.client_secret),
      })
      expect(res.status).toBe(200)
    }
  })

  it('throttles an over-long client_id like any other, without looking it up', async () => {
    const address = freshAddress()
    const long = 'x'.repeat(CLIENT_ID_MAX_CHARS + 1)
    for (let i = 0; i < LOGIN_FAILURES_PER_USER_ADDRESS; i++) {
      await expectInvalidClient(
        await tokenRequest(GRANT, { 'cf-connecting-ip': address, authorization: basic(long, 's') }),
      )
    }
    const res = await tokenRequest(GRANT, {
      'cf-connecting-ip': address,
      authorization: basic(long, 's'),
    })
    await expectError(res, 429, 'rate_limited')
  })
})

describe('the service token header', () => {
  it('names the active key', async () => {
    const { access_token } = await serviceToken(client)
    const jwks = (await (await call('/.well-known/jwks.json')).json()) as {
      keys: { kid: string }[]
    }
    expect(jwks.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(access_token).kid)
  })
})
