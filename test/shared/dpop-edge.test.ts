/**
 * Stolen-token drills end to end against the real edge (`wrangler dev` with
 * DPOP_NONCE=on, its D1 and Durable Objects) and a service verifying with
 * createVerifier: a client logs in with panva's dpop through the nonce round
 * trip; a thief holding its tokens but not its key gets nothing.
 */
import { calculateThumbprint, generateKeyPair, generateProof, type KeyPair } from 'dpop'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../shared/claims.ts'
import { createVerifier, type Verifier } from '../../shared/verifier.ts'
import { startSeededEdge, type SeededEdge } from '../support/edge.ts'

let edge: SeededEdge
let verifier: Verifier
let pair: KeyPair
let nonce: string | undefined

beforeAll(async () => {
  edge = await startSeededEdge({ DPOP_NONCE: 'on' })
  verifier = createVerifier({ issuer: edge.url })
  pair = await generateKeyPair('ES256')
})

afterAll(async () => {
  verifier?.close()
  await edge?.stop()
})

/** POST JSON to the edge, with a proof by `keys` when given, answering one nonce challenge. */
async function post(path: string, body: unknown, keys?: KeyPair): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (keys) headers.dpop = await generateProof(keys, `${edge.url}${path}`, 'POST', nonce)
    const res = await fetch(`${edge.url}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    })
    nonce = res.headers.get('dpop-nonce') ?? nonce
    if (res.status !== 400 || attempt > 0) return res
    const { error } = (await res.clone().json()) as { error: string }
    if (error !== 'use_dpop_nonce') return res
  }
}

describe('DPoP against the real edge', () => {
  let tokens: TokenResponse

  it('the nonce round trip, then a bound login: token_type DPoP, cnf.jkt of the key', async () => {
    nonce = undefined
    const res = await post('/auth/login', { username: 'alice', password: 'alice-password-1' }, pair)
    expect(res.status).toBe(200)
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/)
    tokens = (await res.json()) as TokenResponse
    expect(tokens.token_type).toBe('DPoP')
    const { claims } = await verifier.verify(tokens.access_token)
    expect(claims.cnf).toEqual({ jkt: await calculateThumbprint(pair.publicKey) })
  })

  it('a service admits the access token with a proof of its request, and refuses it stolen', async () => {
    const url = 'https://api.example.com/things'
    const proof = await generateProof(pair, url, 'GET', undefined, tokens.access_token)
    const ok = await verifier.verifyRequest({
      method: 'GET',
      url,
      headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof },
    })
    expect(ok.jkt).toBe(await calculateThumbprint(pair.publicKey))
    await expect(
      verifier.verifyRequest({
        method: 'GET',
        url,
        headers: { authorization: `Bearer ${tokens.access_token}` },
      }),
    ).rejects.toMatchObject({ code: 'dpop_required' })
    const thief = await generateKeyPair('ES256')
    await expect(
      verifier.verifyRequest({
        method: 'GET',
        url,
        headers: {
          authorization: `DPoP ${tokens.access_token}`,
          dpop: await generateProof(thief, url, 'GET', undefined, tokens.access_token),
        },
      }),
    ).rejects.toMatchObject({ code: 'dpop_invalid' })
  })

  it('a stolen refresh token, with no key or the thief’s, is refused and not spent', async () => {
    const body = { refresh_token: tokens.refresh_token }
    const bare = await post('/auth/refresh', body)
    expect([bare.status, ((await bare.json()) as { error: string }).error]).toEqual([
      400,
      'invalid_dpop_proof',
    ])
    const thief = await post('/auth/refresh', body, await generateKeyPair('ES256'))
    expect([thief.status, ((await thief.json()) as { error: string }).error]).toEqual([
      400,
      'invalid_dpop_proof',
    ])
    const owner = await post('/auth/refresh', body, pair)
    expect(owner.status).toBe(200)
    expect(((await owner.json()) as TokenResponse).token_type).toBe('DPoP')
  })
})
