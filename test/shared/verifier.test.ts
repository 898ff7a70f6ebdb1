import { SignJWT, generateKeyPair } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createVerifier } from '../../shared/verifier.ts'
import { startSeededEdge, type SeededEdge } from '../support/edge.ts'

let edge: SeededEdge

beforeAll(async () => {
  edge = await startSeededEdge()
})

afterAll(async () => {
  await edge?.stop()
})

async function login(username: string): Promise<string> {
  return (await edge.login(username)).access_token
}

describe('createVerifier, for other services', () => {
  it('verifies an edge token against the JWKS found from the issuer', async () => {
    const verifier = createVerifier({ issuer: edge.url })
    const { claims, kid } = await verifier.verify(await login('alice'))
    expect(claims).toMatchObject({
      iss: edge.url,
      aud: 'realtime',
      name: 'alice',
      scope: 'chat:read chat:write',
    })
    expect(kid).toEqual(expect.any(String))
    verifier.close()
  })

  it('refuses a token for another audience, issuer, or a forged signature with the contract codes', async () => {
    const token = await login('bob')
    const other = createVerifier({ issuer: edge.url, audience: 'api' })
    await expect(other.verify(token)).rejects.toMatchObject({ code: 'token_invalid' })
    other.close()
    const wrongIssuer = createVerifier({
      issuer: 'http://elsewhere.test',
      jwksUrl: `${edge.url}/.well-known/jwks.json`,
    })
    await expect(wrongIssuer.verify(token)).rejects.toMatchObject({ code: 'token_invalid' })
    wrongIssuer.close()
    const verifier = createVerifier({ issuer: edge.url })
    const { privateKey } = await generateKeyPair('ES256')
    const [header] = token.split('.')
    const kid = JSON.parse(Buffer.from(header!, 'base64url').toString()).kid
    const forged = await new SignJWT({
      sub: 'x',
      sid: 'y',
      name: 'mallory',
      scope: 'chat:write',
      rooms: ['*'],
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .setIssuer(edge.url)
      .setAudience('realtime')
      .setJti('j')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .sign(privateKey)
    await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'token_invalid' })
    await expect(verifier.verify('')).rejects.toMatchObject({ code: 'token_missing' })
    await expect(verifier.verify('not.a.jws!')).rejects.toMatchObject({ code: 'token_malformed' })
    verifier.close()
  })

  it('refuses an expired token, and one the caller says is revoked', async () => {
    const token = await login('carol')
    const later = createVerifier({ issuer: edge.url, keySet: { now: () => Date.now() + 3600_000 } })
    await expect(later.verify(token)).rejects.toMatchObject({ code: 'token_expired' })
    later.close()
    const revoking = createVerifier({
      issuer: edge.url,
      isRevoked: ({ claims }) => claims.name === 'carol',
    })
    await expect(revoking.verify(token)).rejects.toMatchObject({ code: 'token_revoked' })
    revoking.close()
  })
})
