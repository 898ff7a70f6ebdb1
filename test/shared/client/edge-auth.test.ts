/**
 * EdgeAuth against a real edge (wrangler dev, demo users seeded), refresh
 * token in memory as a Node client keeps it. Requests go through the real
 * fetch; a pass-through wrapper only records what was sent and received.
 */
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../../edge/local/edge-process.ts'
import { ClientError, EdgeAuth, type ClientErrorCode } from '../../../shared/client/index.ts'
import type { TokenResponse } from '../../../shared/claims.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'

const TOKEN_TTL_SECONDS = 10

let edge: SeededEdge

beforeAll(async () => {
  edge = await startSeededEdge({ ACCESS_TOKEN_TTL: String(TOKEN_TTL_SECONDS) })
})

afterAll(async () => {
  await edge?.stop()
})

/** An EdgeAuth whose requests are recorded: path, status and JSON body of each. */
function recorded(edgeUrl = edge.url) {
  const exchanges: { path: string; status: number; body: unknown }[] = []
  const auth = new EdgeAuth({
    edgeUrl,
    refreshStorage: 'memory',
    fetch: async (input, init) => {
      const res = await globalThis.fetch(input, init)
      const body = await res
        .clone()
        .json()
        .catch(() => undefined)
      exchanges.push({ path: new URL(String(input)).pathname, status: res.status, body })
      return res
    },
  })
  return { auth, exchanges }
}

/** The code a call rejected with (failing the test if it resolved or threw something else). */
async function refusal(
  promise: Promise<unknown>,
): Promise<ClientError & { code: ClientErrorCode }> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ClientError)
    return err as ClientError
  }
  throw new Error('expected the call to be refused')
}

/** Spend a refresh token directly, as another tab or device holding it would. */
async function postRefresh(refreshToken: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${edge.url}/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: refreshToken }),
  })
  return { status: res.status, body: await res.json() }
}

describe('EdgeAuth (memory mode) against a real edge', () => {
  it('login returns the session its access token describes', async () => {
    const { auth } = recorded()

    const session = await auth.login('alice', 'alice-password-1')

    const claims = decodeJwt(session.accessToken)
    expect(session).toEqual({
      accessToken: expect.any(String),
      sub: claims.sub,
      sid: claims.sid,
      name: 'alice',
      scope: 'chat:read chat:write',
      rooms: ['lobby', 'team:a:*'],
      exp: claims.exp,
      // Bound by default where WebCrypto exists (docs/protocol.md §15).
      jkt: (claims.cnf as { jkt: string }).jkt,
    })
    expect(session.jkt).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(claims.exp! - claims.iat!).toBe(TOKEN_TTL_SECONDS)
    expect(auth.current()).toBe(session)
    // Memory mode: resume() is the session in hand, with no request.
    expect(await auth.resume()).toBe(session)
    expect(auth.refreshes).toBe(0)
  })

  it('a wrong password rejects with invalid_credentials and leaves no session', async () => {
    const { auth } = recorded()

    expect((await refusal(auth.login('bob', 'not-bobs-password'))).code).toBe('invalid_credentials')
    expect(auth.current()).toBeUndefined()
  })

  it('concurrent refresh() calls spend the refresh token once and share the result; the session lives on', async () => {
    const { auth, exchanges } = recorded()
    const first = await auth.login('alice', 'alice-password-1')

    const sessions = await Promise.all([auth.refresh(), auth.refresh(), auth.refresh()])

    expect(exchanges.filter((e) => e.path === '/auth/refresh')).toHaveLength(1)
    expect(new Set(sessions).size).toBe(1)
    expect(sessions[0]).toMatchObject({ sub: first.sub, sid: first.sid })
    expect(auth.refreshes).toBe(1)
    // A second spend of one refresh token would be reuse and revoke the session: it is still alive.
    const next = await auth.refresh()
    expect(next.sid).toBe(first.sid)
    expect(auth.refreshes).toBe(2)
    expect(exchanges.map((e) => e.status)).toEqual([200, 200, 200])
  })

  it('logout revokes the session at the edge; refresh() then asks for a login', async () => {
    const { auth, exchanges } = recorded()
    await auth.login('bob', 'bob-password-1')
    const refreshToken = (exchanges[0]!.body as TokenResponse).refresh_token

    await auth.logout()

    expect(exchanges.at(-1)).toMatchObject({ path: '/auth/logout', status: 204 })
    expect(auth.current()).toBeUndefined()
    expect((await refusal(auth.refresh())).code).toBe('auth_required')
    // The refresh token is bound: without a proof by its key it is refused before anything else.
    expect(await postRefresh(refreshToken)).toMatchObject({
      status: 400,
      body: { error: 'invalid_dpop_proof' },
    })
  })

  it('without binding (dpop: false), a logged-out refresh token is invalid_grant', async () => {
    const auth = new EdgeAuth({ edgeUrl: edge.url, refreshStorage: 'memory', dpop: false })
    const exchanges: TokenResponse[] = []
    const login = await globalThis.fetch(`${edge.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: 'bob-password-1' }),
    })
    exchanges.push((await login.json()) as TokenResponse)
    expect(exchanges[0]!.token_type).toBe('Bearer')
    await auth.login('bob', 'bob-password-1')
    expect(auth.current()!.jkt).toBeUndefined()
    const refreshToken = exchanges[0]!.refresh_token
    // Revoke the bearer session this token belongs to, as another tab would.
    await globalThis.fetch(`${edge.url}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    })
    expect(await postRefresh(refreshToken)).toMatchObject({
      status: 401,
      body: { error: 'invalid_grant' },
    })
  })

  it('refresh() rejects with invalid_grant once the session has ended elsewhere', async () => {
    const { auth, exchanges } = recorded()
    await auth.login('alice', 'alice-password-1')
    const refreshToken = (exchanges[0]!.body as TokenResponse).refresh_token
    const res = await fetch(`${edge.url}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    })
    expect(res.status).toBe(204)

    expect((await refusal(auth.refresh())).code).toBe('invalid_grant')
    expect(auth.refreshes).toBe(0)
  })

  it('an unreachable edge rejects with network', async () => {
    const { auth } = recorded(`http://127.0.0.1:${await freePort()}`)

    expect((await refusal(auth.login('alice', 'alice-password-1'))).code).toBe('network')
  })

  it('repeated wrong passwords are throttled: rate_limited, with retryAfterMs from Retry-After', async () => {
    const { auth, exchanges } = recorded()
    // Five failures for one (username, address) pair are allowed within the window.
    for (let i = 0; i < 5; i++) {
      expect((await refusal(auth.login('mallory', `guess-${i}`))).code).toBe('invalid_credentials')
    }

    const throttled = await refusal(auth.login('mallory', 'guess-5'))

    expect(throttled.code).toBe('rate_limited')
    expect(throttled.retryAfterMs).toBeGreaterThanOrEqual(1000)
    expect(exchanges.at(-1)!.status).toBe(429)
  })
})
