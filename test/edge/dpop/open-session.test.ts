/**
 * Every call that opens a session binds the same way (docs/protocol.md §15):
 * passkey login and sign-up, and email verification, each with a proof.
 */
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { proofKey, type ProofKey } from '../../support/dpop-proofs.ts'
import { strongPassword, uniqueEmail } from '../accounts/support.ts'
import { SoftAuthenticator } from '../passkeys/authenticator.ts'
import { createUser, uniqueName } from '../support.ts'
import { dpopEdge, sessionRow } from './support.ts'

const ORIGIN = 'http://localhost:8787'
const edge = dpopEdge({
  SIGNUP: 'open',
  RP_ID: 'localhost',
  RP_ORIGINS: ORIGIN,
  MAILER: 'outbox',
  EMAIL_VERIFICATION: 'required',
})
let key: ProofKey

beforeAll(async () => {
  key = await proofKey()
})

async function expectBound(res: Response, status: number): Promise<TokenResponse> {
  expect(res.status, await res.clone().text()).toBe(status)
  const tokens = (await res.json()) as TokenResponse
  expect(tokens.token_type).toBe('DPoP')
  const claims = decodeJwt(tokens.access_token) as { cnf?: { jkt: string }; sid: string }
  expect(claims.cnf).toEqual({ jkt: key.jkt })
  expect((await sessionRow(claims.sid))?.jkt).toBe(key.jkt)
  return tokens
}

describe('session-opening routes bind with a proof', () => {
  it('POST /auth/passkeys/login', async () => {
    const authenticator = new SoftAuthenticator(ORIGIN)
    const user = await createUser()
    const tokens = await edge.loginOk(user)
    const bearer = { authorization: `Bearer ${tokens.access_token}` }
    const options = await (await edge.post('/auth/passkeys/register/options', {}, bearer)).json()
    const reg = await edge.post(
      '/auth/passkeys/register',
      { response: await authenticator.create(options as never), name: 'Laptop' },
      bearer,
    )
    expect(reg.status).toBe(201)
    const { challengeId, options: get } = (await (
      await edge.post('/auth/passkeys/login/options', {})
    ).json()) as { challengeId: string; options: never }
    const res = await edge.postWith(
      '/auth/passkeys/login',
      { challengeId, response: await authenticator.get(get) },
      await edge.proof(key, '/auth/passkeys/login'),
    )
    await expectBound(res, 200)
  })

  it('POST /auth/passkeys/signup', async () => {
    const edge = dpopEdge({ SIGNUP: 'open', RP_ID: 'localhost', RP_ORIGINS: ORIGIN })
    const authenticator = new SoftAuthenticator(ORIGIN)
    const username = uniqueName('pk')
    const { challengeId, options } = (await (
      await edge.post('/auth/passkeys/signup/options', { username })
    ).json()) as { challengeId: string; options: never }
    const res = await edge.postWith(
      '/auth/passkeys/signup',
      { username, challengeId, response: await authenticator.create(options) },
      await edge.proof(key, '/auth/passkeys/signup'),
    )
    await expectBound(res, 201)
  })

  it('POST /auth/email/verify', async () => {
    const email = uniqueEmail()
    const signup = await edge.post('/auth/signup', {
      username: uniqueName('mail'),
      password: strongPassword(),
      email,
    })
    expect(signup.status).toBe(202)
    const token = await edge.mailToken(email, 'verify')
    const res = await edge.postWith(
      '/auth/email/verify',
      { token },
      await edge.proof(key, '/auth/email/verify'),
    )
    await expectBound(res, 200)
  })
})
