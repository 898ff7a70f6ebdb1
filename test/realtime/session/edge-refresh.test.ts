import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import type { TokenResponse } from '../../../shared/claims.ts'
import { cleanup, connect, envelope, startServer } from '../support.ts'
import { record, request, until } from '../waits.ts'

let edge: SeededEdge

beforeAll(async () => {
  edge = await startSeededEdge()
})

afterAll(async () => {
  await edge?.stop()
})

afterEach(cleanup)

async function post(path: string, body: unknown): Promise<TokenResponse> {
  const res = await fetch(`${edge.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(res.status).toBe(200)
  return (await res.json()) as TokenResponse
}

describe('in-band refresh against the real edge', () => {
  it('a token from POST /auth/refresh, sent in rt:auth, extends the same session', async () => {
    const { url } = await startServer({ url: edge.url })
    const login = await post('/auth/login', { username: 'alice', password: 'alice-password-1' })
    const first = decodeJwt(login.access_token)
    const socket = await connect(url, { auth: { token: login.access_token } })
    const errors = record(socket, 'rt:error')
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })

    // Let a second pass, so the refreshed token's exp is later.
    await until(() => Math.floor(Date.now() / 1000) > first.iat!, { what: 'the next second' })
    const refreshed = await post('/auth/refresh', { refresh_token: login.refresh_token })
    const second = decodeJwt(refreshed.access_token)
    expect(second).toMatchObject({ sub: first.sub, sid: first.sid })
    expect(second.exp!).toBeGreaterThan(first.exp!)

    expect(
      await request(socket, 'rt:auth', envelope(null, { token: refreshed.access_token })),
    ).toEqual({
      ok: true,
      data: { exp: second.exp },
    })
    // Still the same connection, still in its room, nothing refused.
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'refreshed' })),
    ).toMatchObject({ ok: true })
    expect(errors).toEqual([])
  })

  it("refuses another user's token from the same edge with token_mismatch", async () => {
    const { url } = await startServer({ url: edge.url })
    const alice = await post('/auth/login', { username: 'alice', password: 'alice-password-1' })
    const bob = await post('/auth/login', { username: 'bob', password: 'bob-password-1' })
    const socket = await connect(url, { auth: { token: alice.access_token } })
    expect(await request(socket, 'rt:auth', envelope(null, { token: bob.access_token }))).toEqual({
      ok: false,
      error: { code: 'token_mismatch', message: expect.any(String) },
    })
  })
})
