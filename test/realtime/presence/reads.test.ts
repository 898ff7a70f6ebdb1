/**
 * The server API's presence reads (docs/protocol.md §8) against a real
 * server's presence, with real sockets as the members.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createPresenceReads } from '../../../realtime/presence/reads.ts'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { request } from '../waits.ts'

afterEach(cleanup)

async function setUp() {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, { presence: { graceMs: 60_000 } })
  const reads = createPresenceReads(server.presence)
  for (const sub of ['u-a', 'u-b', 'u-c', 'u-a']) {
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sub, name: sub.slice(2), sid: `s-${Math.random()}` }) },
    })
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
  }
  return { reads }
}

describe('presence reads of the server API', () => {
  it('pages a room with limit and the opaque cursor', async () => {
    const { reads } = await setUp()
    const first = await reads.room('lobby', { limit: '2' })
    expect(first).toEqual({
      room: 'lobby',
      members: [
        { sub: 'u-a', name: 'a', connections: 2 },
        { sub: 'u-b', name: 'b', connections: 1 },
      ],
      next: expect.any(String),
    })
    expect(await reads.room('lobby', { limit: '2', cursor: first.next })).toEqual({
      room: 'lobby',
      members: [{ sub: 'u-c', name: 'c', connections: 1 }],
    })
    expect(await reads.room('empty', {})).toEqual({ room: 'empty', members: [] })
  })

  it('answers a user online with their sockets, and one never seen offline', async () => {
    const { reads } = await setUp()
    expect(await reads.user('u-a')).toEqual({ sub: 'u-a', online: true, connections: 2 })
    expect(await reads.user('u-nobody')).toEqual({ sub: 'u-nobody', online: false, connections: 0 })
  })

  it.each([
    ['limit 0', 'lobby', { limit: '0' }, 'envelope_invalid'],
    ['limit 1001', 'lobby', { limit: '1001' }, 'envelope_invalid'],
    ['limit not a number', 'lobby', { limit: '10x' }, 'envelope_invalid'],
    ['a forged cursor', 'lobby', { cursor: '***' }, 'envelope_invalid'],
    ['a bad room name', 'no spaces', {}, 'envelope_invalid'],
    ['a user room', 'user:u-a', {}, 'forbidden'],
    ['a session room', 'session:s', {}, 'forbidden'],
  ])('refuses %s with %s', async (_what, room, query, code) => {
    const { reads } = await setUp()
    await expect(reads.room(room, query)).rejects.toMatchObject({ code })
  })
})
