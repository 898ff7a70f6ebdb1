import jwt from 'jsonwebtoken'
import jwksRsa from 'jwks-rsa'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSeededEdge, type SeededEdge } from '../support/edge.ts'

let edge: SeededEdge

beforeAll(async () => {
  edge = await startSeededEdge()
})

afterAll(async () => {
  await edge?.stop()
})

async function login(username: string, password: string): Promise<string> {
  return (await edge.login(username, password)).access_token
}

describe('another service verifying edgegate tokens', () => {
  it('finds the JWKS through discovery', async () => {
    const doc = (await (
      await fetch(`${edge.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, string>
    expect(doc.issuer).toBe(edge.url)
    expect(doc.jwks_uri).toBe(`${edge.url}/.well-known/jwks.json`)
  })

  it('verifies with jsonwebtoken + jwks-rsa, the stock Node combination', async () => {
    const token = await login('alice', 'alice-password-1')
    const client = jwksRsa({
      jwksUri: `${edge.url}/.well-known/jwks.json`,
      cache: true,
      rateLimit: true,
    })
    const getKey: jwt.GetPublicKeyOrSecret = (header, cb) => {
      client.getSigningKey(header.kid).then((k) => cb(null, k.getPublicKey()), cb)
    }
    const options = {
      algorithms: ['ES256' as const],
      issuer: edge.url,
      audience: 'realtime',
      complete: true as const,
    }
    const decoded = await new Promise<jwt.Jwt>((resolve, reject) =>
      jwt.verify(token, getKey, options, (err, d) => (err ? reject(err) : resolve(d as jwt.Jwt))),
    )
    expect(decoded.header.typ).toBe('at+jwt')
    const payload = decoded.payload as jwt.JwtPayload
    expect(payload).toMatchObject({
      name: 'alice',
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'team:a:*'],
    })
    expect(payload.sub).not.toBe('alice')
  })

  it('refuses, with jsonwebtoken, a token whose payload was tampered with', async () => {
    const token = await login('bob', 'bob-password-1')
    const [h, p, s] = token.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'chat:admin' })).toString('base64url')}.${s}`
    const client = jwksRsa({ jwksUri: `${edge.url}/.well-known/jwks.json` })
    const getKey: jwt.GetPublicKeyOrSecret = (header, cb) => {
      client.getSigningKey(header.kid).then((k) => cb(null, k.getPublicKey()), cb)
    }
    await expect(
      new Promise((resolve, reject) =>
        jwt.verify(
          forged,
          getKey,
          { algorithms: ['ES256'], issuer: edge.url, audience: 'realtime' },
          (err, d) => (err ? reject(err) : resolve(d)),
        ),
      ),
    ).rejects.toMatchObject({ name: 'JsonWebTokenError', message: 'invalid signature' })
  })

  it('verifies with jose createRemoteJWKSet over HTTP', async () => {
    const token = await login('carol', 'carol-password-1')
    const keys = createRemoteJWKSet(new URL(`${edge.url}/.well-known/jwks.json`))
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer: edge.url,
      audience: 'realtime',
      algorithms: ['ES256'],
      typ: 'at+jwt',
    })
    expect(protectedHeader.typ).toBe('at+jwt')
    expect(payload).toMatchObject({ name: 'carol', scope: 'chat:read' })
  })

  it('keeps users and signing keys across a restart with the same state directory', async () => {
    const kidsBefore = (
      (await (await fetch(`${edge.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[]
      }
    ).keys
    await edge.restart()
    const kidsAfter = (
      (await (await fetch(`${edge.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[]
      }
    ).keys
    expect(kidsAfter.map((k) => k.kid)).toEqual(kidsBefore.map((k) => k.kid))
    expect(await login('alice', 'alice-password-1')).toMatch(/^ey/)
  })
})
