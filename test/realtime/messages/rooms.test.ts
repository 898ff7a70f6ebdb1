import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, next, startIssuer, startServer } from '../support.ts'
import { request } from '../waits.ts'

afterEach(cleanup)

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })

async function setUp(claims: Record<string, unknown> = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer)
  const socket = await connect(url, { auth: { token: await issuer.mint(claims) } })
  const rooms = () => server.io.of('/').sockets.get(socket.id!)!.rooms
  return { issuer, server, url, socket, rooms }
}

describe('rt:join', () => {
  it.each([['lobby'], ['team:a:x'], ['team:a:']])('joins %s, which the rooms claim allows', async (room) => {
    const { socket, rooms } = await setUp()
    expect(await request(socket, 'rt:join', envelope({ room }))).toEqual({ ok: true, data: { room } })
    expect(rooms().has(room)).toBe(true)
  })

  it.each([['team:b:x'], ['team:a'], ['lobby2'], ['Lobby'], ['team:ab']])(
    'refuses %s, outside the rooms claim, with forbidden',
    async (room) => {
      const { socket, rooms } = await setUp()
      expect(await request(socket, 'rt:join', envelope({ room }))).toEqual(refused('forbidden'))
      expect(rooms().has(room)).toBe(false)
    },
  )

  it.each([['user:user-1'], ['user:someone-else'], ['session:session-1'], ['session:another']])(
    'never lets a client join the server-managed room %s, even with rooms ["*"]',
    async (room) => {
      const { socket, rooms } = await setUp({ rooms: ['*'] })
      const before = [...rooms()].sort()
      expect(await request(socket, 'rt:join', envelope({ room }))).toEqual(refused('forbidden'))
      expect([...rooms()].sort()).toEqual(before)
    },
  )

  it("never lets a client join another connection's private room (its socket id), even with rooms [\"*\"]", async () => {
    const { socket, issuer, url } = await setUp({ rooms: ['*'] })
    const victim = await connect(url, { auth: { token: await issuer.mint({ sub: 'u-v', sid: 's-v' }) } })
    expect(await request(socket, 'rt:join', envelope({ room: victim.id }))).toEqual(refused('forbidden'))
  })
})

describe('rt:leave', () => {
  it.each([['user:user-1'], ['session:session-1']])('refuses to leave the server-managed room %s and stays in it', async (room) => {
    const { server, socket, rooms } = await setUp()
    expect(await request(socket, 'rt:leave', envelope({ room }))).toEqual(refused('forbidden'))
    expect(rooms().has(room)).toBe(true)
    const delivered = next(socket, 'chat:message')
    server.io.to(room).emit('chat:message', { id: 'x', room, from: { sub: 'server', name: 'server' }, text: 'still yours', ts: 0 })
    expect(await delivered).toMatchObject({ text: 'still yours' })
  })

  it('refuses to leave its own private room (the socket id)', async () => {
    const { socket, rooms } = await setUp({ rooms: ['*'] })
    expect(await request(socket, 'rt:leave', envelope({ room: socket.id }))).toEqual(refused('forbidden'))
    expect(rooms().has(socket.id!)).toBe(true)
  })

  it('leaves a joined room, after which sending there is forbidden', async () => {
    const { socket, rooms } = await setUp()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toMatchObject({ ok: true })
    expect(await request(socket, 'rt:leave', envelope({ room: 'lobby' }))).toEqual({ ok: true, data: { room: 'lobby' } })
    expect(rooms().has('lobby')).toBe(false)
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(refused('forbidden'))
  })
})

describe('room-targeted events', () => {
  it('refuses chat:send to a room the socket has not joined, even one its claim allows', async () => {
    const { socket } = await setUp()
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(refused('forbidden'))
  })

  it('delivers chat:message only to members of the room, with the sender from the token', async () => {
    const { socket: alice, issuer, url } = await setUp({ sub: 'u-a', sid: 's-a', name: 'alice' })
    const bob = await connect(url, { auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b', name: 'bob' }) } })
    await request(alice, 'rt:join', envelope({ room: 'lobby' }))
    await request(alice, 'rt:join', envelope({ room: 'team:a:x' }))
    await request(bob, 'rt:join', envelope({ room: 'lobby' }))
    const first = next(bob, 'chat:message')
    await request(alice, 'chat:send', envelope({ room: 'team:a:x', text: 'team only' }))
    await request(alice, 'chat:send', envelope({ room: 'lobby', text: 'everyone' }))
    // Messages to one socket keep their order, so bob's first is the lobby one.
    expect(await first).toMatchObject({ room: 'lobby', text: 'everyone', from: { sub: 'u-a', name: 'alice' } })
  })
})

describe('a new token narrowing the rooms claim', () => {
  it('leaves the rooms it no longer allows, keeps the others and the server-managed ones', async () => {
    const { socket, issuer, rooms } = await setUp()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    await request(socket, 'rt:join', envelope({ room: 'team:a:x' }))
    const narrower = await issuer.mint({ rooms: ['lobby'] })
    expect(await request(socket, 'rt:auth', envelope(null, { token: narrower }))).toMatchObject({ ok: true })
    expect([...rooms()].filter((r) => r !== socket.id).sort()).toEqual(['lobby', 'session:session-1', 'user:user-1'])
    expect(await request(socket, 'chat:send', envelope({ room: 'team:a:x', text: 'hi' }))).toEqual(refused('forbidden'))
    expect(await request(socket, 'rt:join', envelope({ room: 'team:a:x' }))).toEqual(refused('forbidden'))
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toMatchObject({ ok: true })
  })
})
