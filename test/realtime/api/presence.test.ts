/**
 * The presence reads of the server API (docs/protocol.md §8) over HTTP on
 * the realtime port, with real service tokens and real sockets as members.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { request } from '../waits.ts'
import { serviceToken } from './service.ts'

afterEach(cleanup)

async function setUp() {
  const issuer = await startIssuer()
  const { url } = await startServer(issuer)
  for (const sub of ['u-a', 'u-b', 'u-a']) {
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sub, name: sub.slice(2), sid: `s-${Math.random()}` }) },
    })
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
  }
  const get = async (path: string, token?: string) => {
    const res = await fetch(`${url}${path}`, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    })
    return {
      status: res.status,
      cache: res.headers.get('cache-control'),
      body: (await res.json()) as any,
    }
  }
  return { issuer, get, reader: await serviceToken(issuer, { scope: 'presence:read' }) }
}

describe('GET /api/v1/presence', () => {
  it('lists a room, page by page, to a service holding presence:read', async () => {
    const { get, reader } = await setUp()
    const first = await get('/api/v1/presence/rooms/lobby?limit=1', reader)
    expect(first).toEqual({
      status: 200,
      cache: 'no-store',
      body: {
        room: 'lobby',
        members: [{ sub: 'u-a', name: 'a', connections: 2 }],
        next: expect.any(String),
      },
    })
    const second = await get(
      `/api/v1/presence/rooms/lobby?limit=1&cursor=${first.body.next}`,
      reader,
    )
    expect(second.body).toEqual({
      room: 'lobby',
      members: [{ sub: 'u-b', name: 'b', connections: 1 }],
    })
  })

  it('answers whether a user is online, and with how many sockets', async () => {
    const { get, reader } = await setUp()
    expect((await get('/api/v1/presence/users/u-a', reader)).body).toEqual({
      sub: 'u-a',
      online: true,
      connections: 2,
    })
    expect((await get('/api/v1/presence/users/u-z', reader)).body).toEqual({
      sub: 'u-z',
      online: false,
      connections: 0,
    })
  })

  it('refuses a service token without presence:read with 403, and no token with 401', async () => {
    const { get, issuer } = await setUp()
    const publisher = await serviceToken(issuer, { scope: 'publish disconnect' })
    for (const path of ['/api/v1/presence/rooms/lobby', '/api/v1/presence/users/u-a']) {
      expect(await get(path, publisher)).toMatchObject({
        status: 403,
        body: { error: 'forbidden' },
      })
      expect(await get(path)).toMatchObject({ status: 401 })
    }
  })

  it.each([
    ['limit=0', 400, 'envelope_invalid'],
    ['limit=1001', 400, 'envelope_invalid'],
    ['cursor=***', 400, 'envelope_invalid'],
  ])('refuses ?%s with %i %s', async (query, status, error) => {
    const { get, reader } = await setUp()
    expect(await get(`/api/v1/presence/rooms/lobby?${query}`, reader)).toMatchObject({
      status,
      body: { error },
    })
  })

  it('refuses the server-managed rooms with 403', async () => {
    const { get, reader } = await setUp()
    expect(await get('/api/v1/presence/rooms/user:u-a', reader)).toMatchObject({
      status: 403,
      body: { error: 'forbidden' },
    })
  })
})
