/**
 * Room grants end to end against the real edge (wrangler dev): a service
 * client with scope `grants` gets a service token at `/auth/token`, asks
 * `/auth/room-grants` for a grant bound to alice's session, and alice joins
 * a room her `rooms` claim does not cover (docs/protocol.md §8, §11).
 */
import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ServiceTokenResponse } from '../../../shared/claims.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import { cleanup, connect, envelope, startServer } from '../support.ts'
import { request } from '../waits.ts'

let edge: SeededEdge

beforeAll(async () => {
  edge = await startSeededEdge()
})

afterAll(async () => {
  await edge?.stop()
})

afterEach(cleanup)

/** A service client through the admin API, and a service token for it. */
async function serviceToken(scope: string): Promise<string> {
  const created = await fetch(`${edge.url}/admin/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${edge.adminToken}` },
    body: JSON.stringify({ name: `grants-${Date.now()}`, scope }),
  })
  expect(created.status).toBe(201)
  const { client_id, client_secret } = (await created.json()) as Record<string, string>
  const res = await fetch(`${edge.url}/auth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  })
  expect(res.status).toBe(200)
  return ((await res.json()) as ServiceTokenResponse).access_token
}

/** `POST /auth/room-grants` with a service token. */
function askGrant(token: string, body: unknown): Promise<Response> {
  return fetch(`${edge.url}/auth/room-grants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })
}

describe('room grants from the real edge', () => {
  it("alice joins doc:42 with the edge's grant for her session; bob cannot use it", async () => {
    const { url } = await startServer({ url: edge.url })
    const alice = await edge.login('alice')
    const { sub, sid } = decodeJwt(alice.access_token) as { sub: string; sid: string }
    const service = await serviceToken('grants')
    const res = await askGrant(service, { sub, sid, rooms: ['doc:42'] })
    expect(res.status).toBe(200)
    const { grant, expires_in } = (await res.json()) as { grant: string; expires_in: number }
    expect(expires_in).toBe(300)

    const socket = await connect(url, { auth: { token: alice.access_token } })
    expect(await request(socket, 'rt:join', envelope({ room: 'doc:42' }))).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'doc:42', grant }))).toEqual({
      ok: true,
      data: { room: 'doc:42' },
    })

    const bob = await connect(url, { auth: { token: (await edge.login('bob')).access_token } })
    expect(await request(bob, 'rt:join', envelope({ room: 'doc:42', grant }))).toMatchObject({
      ok: false,
      error: { code: 'token_mismatch' },
    })
  })

  it('a service token without the grants scope gets 403 at the edge', async () => {
    const service = await serviceToken('publish')
    const res = await askGrant(service, { sub: 'someone', rooms: ['doc:42'] })
    expect(res.status).toBe(403)
  })
})
