import { beforeAll, describe, expect, it } from 'vitest'
import { proofKey, signProof, type ProofKey } from '../../support/dpop-proofs.ts'
import { expectError, type TestUser } from '../support.ts'
import { createUser, dpopEdge, EDGE } from './support.ts'

const edge = dpopEdge()
let alice: TestUser
let key: ProofKey

beforeAll(async () => {
  alice = await createUser()
  key = await proofKey()
})

const sessionsProof = (token: string, k = key) =>
  signProof(k, { htm: 'GET', htu: `${EDGE}/auth/sessions`, accessToken: token })

describe("the edge's own routes with a bound access token (docs/dpop.md)", () => {
  it('GET /auth/sessions admits Authorization: DPoP with a proof of the request', async () => {
    const { access_token: token } = await edge.loginOk(alice, key)
    const res = await edge.call('/auth/sessions', {
      headers: { authorization: `DPoP ${token}`, dpop: await sessionsProof(token) },
    })
    expect(res.status).toBe(200)
    const { sessions } = (await res.json()) as { sessions: { current: boolean }[] }
    expect(sessions.some((s) => s.current)).toBe(true)
  })

  it.each<[string, (token: string) => Promise<Record<string, string>>]>([
    ['as Bearer (a stolen token, no key)', async (t) => ({ authorization: `Bearer ${t}` })],
    ['as DPoP without a proof', async (t) => ({ authorization: `DPoP ${t}` })],
    [
      'with a proof by another key',
      async (t) => ({ authorization: `DPoP ${t}`, dpop: await sessionsProof(t, await proofKey()) }),
    ],
  ])('refuses it %s: 401 unauthorized', async (_, headers) => {
    const { access_token: token } = await edge.loginOk(alice, key)
    const res = await edge.call('/auth/sessions', { headers: await headers(token) })
    await expectError(res, 401, 'unauthorized', [token])
  })

  it('a stolen bound token cannot start a passkey registration (account takeover)', async () => {
    const { access_token: token } = await edge.loginOk(alice, key)
    const res = await edge.call('/auth/passkeys/register/options', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    })
    await expectError(res, 401, 'unauthorized', [token])
  })

  it('a replayed proof is refused', async () => {
    const { access_token: token } = await edge.loginOk(alice, key)
    const headers = { authorization: `DPoP ${token}`, dpop: await sessionsProof(token) }
    expect((await edge.call('/auth/sessions', { headers })).status).toBe(200)
    await expectError(await edge.call('/auth/sessions', { headers }), 401, 'unauthorized')
  })

  it('an unbound token works as Bearer, as before', async () => {
    const { access_token: token } = await edge.loginOk(alice)
    const res = await edge.call('/auth/sessions', { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(200)
  })
})
