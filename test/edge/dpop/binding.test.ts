import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { createSession } from '../../../edge/auth/sessions.ts'
import { proofKey, type ProofKey } from '../../support/dpop-proofs.ts'
import { strongPassword } from '../accounts/support.ts'
import { expectError, sidOf, userRow, type TestUser } from '../support.ts'
import { createUser, dpopEdge, sessionRow } from './support.ts'

const edge = dpopEdge()
let alice: TestUser
let key: ProofKey
let thief: ProofKey

beforeAll(async () => {
  alice = await createUser()
  key = await proofKey()
  thief = await proofKey()
})

function cnfOf(tokens: TokenResponse) {
  return (decodeJwt(tokens.access_token) as { cnf?: { jkt: string } }).cnf
}

describe('login with a DPoP proof (docs/protocol.md §15)', () => {
  it('binds the session: cnf.jkt in the access token, token_type DPoP, the key on the session row', async () => {
    const tokens = await edge.loginOk(alice, key)
    expect(tokens.token_type).toBe('DPoP')
    expect(cnfOf(tokens)).toEqual({ jkt: key.jkt })
    expect((await sessionRow(sidOf(tokens)))?.jkt).toBe(key.jkt)
  })

  it('an EdDSA key binds too', async () => {
    const ed = await proofKey('EdDSA')
    const tokens = await edge.loginOk(alice, ed)
    expect(cnfOf(tokens)).toEqual({ jkt: ed.jkt })
  })

  it('without a proof the session is a bearer session, as before', async () => {
    const tokens = await edge.loginOk(alice)
    expect(tokens.token_type).toBe('Bearer')
    expect(cnfOf(tokens)).toBeUndefined()
    expect((await sessionRow(sidOf(tokens)))?.jkt).toBeNull()
  })
})

describe('refreshing a bound session', () => {
  it('with a proof by the bound key: 200, a new pair, still bound to that key', async () => {
    const first = await edge.loginOk(alice, key)
    const res = await edge.refresh(first.refresh_token, key)
    expect(res.status).toBe(200)
    const next = (await res.json()) as TokenResponse
    expect(next.token_type).toBe('DPoP')
    expect(cnfOf(next)).toEqual({ jkt: key.jkt })
    expect(sidOf(next)).toBe(sidOf(first))
  })

  it('a stolen refresh token without the key is refused 400 invalid_dpop_proof and NOT spent', async () => {
    const first = await edge.loginOk(alice, key)
    const stolen = await edge.refresh(first.refresh_token)
    await expectError(stolen, 400, 'invalid_dpop_proof', [first.refresh_token])
    // The owner's refresh with the same token still works: it was not spent.
    const owner = await edge.refresh(first.refresh_token, key)
    expect(owner.status).toBe(200)
    expect((await sessionRow(sidOf(first)))?.revoked_at).toBeNull()
  })

  it('a stolen refresh token with a proof by another key is refused and NOT spent', async () => {
    const first = await edge.loginOk(alice, key)
    await expectError(await edge.refresh(first.refresh_token, thief), 400, 'invalid_dpop_proof')
    expect((await edge.refresh(first.refresh_token, key)).status).toBe(200)
  })

  it('a spent token without the key changes nothing; with the key it is reuse and revokes the session', async () => {
    const first = await edge.loginOk(alice, key)
    const second = (await (await edge.refresh(first.refresh_token, key)).json()) as TokenResponse
    await expectError(await edge.refresh(first.refresh_token, thief), 400, 'invalid_dpop_proof')
    expect((await sessionRow(sidOf(first)))?.revoked_at).toBeNull()
    await expectError(await edge.refresh(first.refresh_token, key), 401, 'invalid_grant')
    expect((await sessionRow(sidOf(first)))?.revoked_why).toBe('reuse')
    await expectError(await edge.refresh(second.refresh_token, key), 401, 'invalid_grant')
  })

  it('logs the refusal with the session and both thumbprints, never the token', async () => {
    const first = await edge.loginOk(alice, key)
    const lines: string[] = []
    const warn = console.warn
    console.warn = (line: string) => lines.push(line)
    try {
      await edge.refresh(first.refresh_token, thief)
    } finally {
      console.warn = warn
    }
    const refusal = lines.find((l) => l.includes('DPoP binding not met'))
    expect(refusal).toBeDefined()
    expect(JSON.parse(refusal!)).toMatchObject({
      sid: sidOf(first),
      jkt: key.jkt,
      proofJkt: thief.jkt,
    })
    for (const line of lines) expect(line).not.toContain(first.refresh_token)
  })
})

describe('refreshing a bearer session', () => {
  it('with a proof stays a bearer session (never bound after the fact; docs/dpop.md)', async () => {
    const first = await edge.loginOk(alice)
    const res = await edge.refresh(first.refresh_token, key)
    expect(res.status).toBe(200)
    const next = (await res.json()) as TokenResponse
    expect(next.token_type).toBe('Bearer')
    expect(cnfOf(next)).toBeUndefined()
    expect((await sessionRow(sidOf(first)))?.jkt).toBeNull()
  })
})

describe('DPOP=required', () => {
  const required = dpopEdge({ DPOP: 'required' })

  it('refuses a login without a proof with 400 invalid_dpop_proof, and opens no session', async () => {
    const bob = await createUser()
    const res = await required.postWith('/auth/login', {
      username: bob.username,
      password: bob.password,
    })
    await expectError(res, 400, 'invalid_dpop_proof')
    const n = await env.DB.prepare('SELECT COUNT(*) AS n FROM sessions WHERE sub = ?')
      .bind(bob.sub)
      .first<{ n: number }>()
    expect(n?.n).toBe(0)
  })

  it('accepts a login with a proof', async () => {
    const tokens = await required.loginOk(alice, key)
    expect(tokens.token_type).toBe('DPoP')
  })

  it('refuses to refresh a bearer session from before, even with a proof, and does not spend it', async () => {
    const user = (await userRow(alice.username))!
    const grant = await createSession(
      env.DB,
      { ...user, scope: alice.scope, rooms: JSON.stringify(alice.rooms) } as never,
      Math.floor(Date.now() / 1000),
      { sessionTtlSeconds: 3600, maxSessions: 100, accessTokenTtlSeconds: 300 },
    )
    await expectError(await required.refresh(grant.refreshToken, key), 400, 'invalid_dpop_proof')
    // Under DPOP=optional the same token is still good.
    expect((await edge.refresh(grant.refreshToken)).status).toBe(200)
  })
})

describe('every call that opens a session binds the same way', () => {
  it('sign-up with a proof answers 201 with a DPoP-bound token response', async () => {
    const open = dpopEdge({ SIGNUP: 'open' })
    const res = await open.postWith(
      '/auth/signup',
      { username: `dpop-${crypto.randomUUID().slice(0, 8)}`, password: strongPassword() },
      await open.proof(key, '/auth/signup'),
    )
    expect(res.status, await res.clone().text()).toBe(201)
    const tokens = (await res.json()) as TokenResponse
    expect(tokens.token_type).toBe('DPoP')
    expect(cnfOf(tokens)).toEqual({ jkt: key.jkt })
  })
})
