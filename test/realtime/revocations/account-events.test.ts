/**
 * Account events close sockets (docs/protocol.md §13, §6): the real edge
 * (wrangler dev, SIGNUP=open, MAILER=outbox), a real realtime node polling
 * its revocation feed, and real socket.io clients.
 */
import { decodeJwt } from 'jose'
import type { Socket } from 'socket.io-client'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import { outboxToken } from '../../support/outbox.ts'
import { cleanup, connect, envelope, next, startServer } from '../support.ts'
import { disconnection, request } from '../waits.ts'

let edge: SeededEdge
let realtimeUrl: string

/**
 * Bound on a socket being told and closed after an account event. The feed poll takes 200 ms;
 * this only catches a hang, and its clock, armed before the request, also runs through the
 * edge's work on it: a reset mailed and read from the outbox, and real scrypt hashes (two for
 * a password change), seconds each on a loaded machine.
 */
const REVOKED_WITHIN_MS = 30_000

beforeAll(async () => {
  edge = await startSeededEdge({ SIGNUP: 'open', MAILER: 'outbox' })
}, 120_000)

// A node per test (cleanup closes it): pull only, every 200 ms, as the edge started before its port was known.
beforeEach(async () => {
  const { url } = await startServer(
    { url: edge.url },
    { revocationFeed: { edgeUrl: edge.url, token: edge.feedToken, intervalMs: 200 } },
  )
  realtimeUrl = url
})

afterAll(async () => {
  await cleanup()
  await edge?.stop()
})

afterEach(cleanup)

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${edge.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

async function tokens(res: Response, status = 200): Promise<TokenResponse> {
  expect(res.status, await res.clone().text()).toBe(status)
  return (await res.json()) as TokenResponse
}

function mailToken(to: string, kind: 'verify' | 'reset'): Promise<string> {
  return outboxToken(edge, to, kind)
}

function name(prefix: string) {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`
}

/** A socket of `access`, joined to the lobby (so it is fully in). */
async function socketOf(access: string): Promise<Socket> {
  const socket = await connect(realtimeUrl, { auth: { token: access } })
  expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
  return socket
}

describe('account events close sockets', () => {
  it('a password reset closes an open socket with token_revoked; the new password connects at once', async () => {
    const username = name('reset')
    const password = `Old-${crypto.randomUUID()}`
    const email = `${username}@example.test`
    await tokens(await post('/auth/signup', { username, password, email }), 201)
    const session = await tokens(
      await post('/auth/email/verify', { token: await mailToken(email, 'verify') }),
    )
    const socket = await socketOf(session.access_token)
    const revoked = next(socket, 'rt:error', REVOKED_WITHIN_MS)
    const closed = disconnection(socket, REVOKED_WITHIN_MS)

    expect((await post('/auth/password/forgot', { email })).status).toBe(202)
    const token = await mailToken(email, 'reset')
    const newPassword = `New-${crypto.randomUUID()}`
    const resetAt = performance.now()
    expect((await post('/auth/password/reset', { token, password: newPassword })).status).toBe(204)
    expect(await revoked).toMatchObject({ code: 'token_revoked' })
    const ms = performance.now() - resetAt
    await closed
    console.log(`reset → token_revoked on the socket: ${Math.round(ms)} ms`)

    expect((await post('/auth/refresh', { refresh_token: session.refresh_token })).status).toBe(401)
    expect((await post('/auth/password/reset', { token, password: newPassword })).status).toBe(401)
    // A login with the new password in the same second is not covered by the reset's user event.
    const fresh = await tokens(await post('/auth/login', { username, password: newPassword }))
    const again = await socketOf(fresh.access_token)
    expect(again.connected).toBe(true)
  })

  it("a password change keeps the caller's socket and closes the other session's", async () => {
    const username = name('change')
    const password = `Pw-${crypto.randomUUID()}`
    const mine = await tokens(await post('/auth/signup', { username, password }), 201)
    const other = await tokens(await post('/auth/login', { username, password }))
    const mySocket = await socketOf(mine.access_token)
    const otherSocket = await socketOf(other.access_token)
    const otherRevoked = next(otherSocket, 'rt:error', REVOKED_WITHIN_MS)
    let mineClosed = false
    mySocket.on('disconnect', () => (mineClosed = true))

    const res = await post(
      '/auth/password',
      { current_password: password, new_password: `Pw2-${crypto.randomUUID()}` },
      { authorization: `Bearer ${mine.access_token}` },
    )
    expect(res.status).toBe(204)
    expect(await otherRevoked).toMatchObject({ code: 'token_revoked' })
    // The caller's socket saw the same feed poll and is still in: it can still send.
    expect(
      await request(mySocket, 'chat:send', envelope({ room: 'lobby', text: 'still here' })),
    ).toMatchObject({ ok: true })
    expect(mineClosed).toBe(false)
  })

  it('revoking a session from the list disconnects that session only', async () => {
    const username = name('list')
    const password = `Pw-${crypto.randomUUID()}`
    const phone = await tokens(await post('/auth/signup', { username, password }), 201)
    const laptop = await tokens(await post('/auth/login', { username, password }))
    const phoneSocket = await socketOf(phone.access_token)
    const laptopSocket = await socketOf(laptop.access_token)
    const phoneRevoked = next(phoneSocket, 'rt:error', REVOKED_WITHIN_MS)

    const sid = decodeJwt(phone.access_token).sid as string
    const res = await fetch(`${edge.url}/auth/sessions/${sid}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${laptop.access_token}` },
    })
    expect(res.status).toBe(204)
    expect(await phoneRevoked).toMatchObject({ code: 'token_revoked' })
    expect(
      await request(laptopSocket, 'chat:send', envelope({ room: 'lobby', text: 'mine' })),
    ).toMatchObject({ ok: true })
  })
})
