import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, next, startIssuer, startServer } from '../support.ts'
import type { Socket } from 'socket.io-client'
import type { RealtimeServer } from '../../../realtime/server.ts'
import { request, until } from '../waits.ts'

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
  it.each([['lobby'], ['team:a:x'], ['team:a:']])(
    'joins %s, which the rooms claim allows',
    async (room) => {
      const { socket, rooms } = await setUp()
      expect(await request(socket, 'rt:join', envelope({ room }))).toEqual({
        ok: true,
        data: { room },
      })
      expect(rooms().has(room)).toBe(true)
    },
  )

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

  it('never lets a client join another connection\'s private room (its socket id), even with rooms ["*"]', async () => {
    const { socket, issuer, url } = await setUp({ rooms: ['*'] })
    const victim = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-v', sid: 's-v' }) },
    })
    expect(await request(socket, 'rt:join', envelope({ room: victim.id }))).toEqual(
      refused('forbidden'),
    )
  })
})

describe('rt:leave', () => {
  it.each([['user:user-1'], ['session:session-1']])(
    'refuses to leave the server-managed room %s and stays in it',
    async (room) => {
      const { server, socket, rooms } = await setUp()
      expect(await request(socket, 'rt:leave', envelope({ room }))).toEqual(refused('forbidden'))
      expect(rooms().has(room)).toBe(true)
      const delivered = next(socket, 'chat:message')
      server.io.to(room).emit('chat:message', {
        id: 'x',
        room,
        from: { sub: 'server', name: 'server' },
        text: 'still yours',
        ts: 0,
      })
      expect(await delivered).toMatchObject({ text: 'still yours' })
    },
  )

  it('refuses to leave its own private room (the socket id)', async () => {
    const { socket, rooms } = await setUp({ rooms: ['*'] })
    expect(await request(socket, 'rt:leave', envelope({ room: socket.id }))).toEqual(
      refused('forbidden'),
    )
    expect(rooms().has(socket.id!)).toBe(true)
  })

  it('leaves a joined room, after which sending there is forbidden', async () => {
    const { socket, rooms } = await setUp()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' })),
    ).toMatchObject({ ok: true })
    expect(await request(socket, 'rt:leave', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(rooms().has('lobby')).toBe(false)
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(
      refused('forbidden'),
    )
  })
})

describe('room-targeted events', () => {
  it('refuses chat:send to a room the socket has not joined, even one its claim allows', async () => {
    const { socket } = await setUp()
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(
      refused('forbidden'),
    )
  })

  it('delivers chat:message only to members of the room, with the sender from the token', async () => {
    const { socket: alice, issuer, url } = await setUp({ sub: 'u-a', sid: 's-a', name: 'alice' })
    const bob = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b', name: 'bob' }) },
    })
    await request(alice, 'rt:join', envelope({ room: 'lobby' }))
    await request(alice, 'rt:join', envelope({ room: 'team:a:x' }))
    await request(bob, 'rt:join', envelope({ room: 'lobby' }))
    const first = next(bob, 'chat:message')
    await request(alice, 'chat:send', envelope({ room: 'team:a:x', text: 'team only' }))
    await request(alice, 'chat:send', envelope({ room: 'lobby', text: 'everyone' }))
    // Messages to one socket keep their order, so bob's first is the lobby one.
    expect(await first).toMatchObject({
      room: 'lobby',
      text: 'everyone',
      from: { sub: 'u-a', name: 'alice' },
    })
  })
})

describe('a new token narrowing the rooms claim', () => {
  it('leaves the rooms it no longer allows, keeps the others and the server-managed ones', async () => {
    const { socket, issuer, rooms } = await setUp()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    await request(socket, 'rt:join', envelope({ room: 'team:a:x' }))
    const narrower = await issuer.mint({ rooms: ['lobby'] })
    expect(await request(socket, 'rt:auth', envelope(null, { token: narrower }))).toMatchObject({
      ok: true,
    })
    expect([...rooms()].filter((r) => r !== socket.id).sort()).toEqual([
      'lobby',
      'session:session-1',
      'user:user-1',
    ])
    expect(await request(socket, 'chat:send', envelope({ room: 'team:a:x', text: 'hi' }))).toEqual(
      refused('forbidden'),
    )
    expect(await request(socket, 'rt:join', envelope({ room: 'team:a:x' }))).toEqual(
      refused('forbidden'),
    )
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' })),
    ).toMatchObject({ ok: true })
  })
})

describe('room caps (hardening: issue 15 item 2)', () => {
  const capped = async (rooms: { perSocket?: number; perUser?: number }) => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, { rooms })
    const token = (claims: Record<string, unknown> = {}) =>
      issuer.mint({ rooms: ['team:a:*'], ...claims })
    return { server, url, token }
  }
  const join = (socket: Socket, room: string) => request(socket, 'rt:join', envelope({ room }))
  const refusals = async (server: RealtimeServer) =>
    server.metrics.registry.getSingleMetricAsString('realtime_room_joins_refused_total')

  it('refuses a join past the per-socket cap with forbidden, and a leave frees a slot', async () => {
    const { server, url, token } = await capped({ perSocket: 3 })
    const socket = await connect(url, { auth: { token: await token() } })
    for (const n of [1, 2, 3]) expect(await join(socket, `team:a:${n}`)).toMatchObject({ ok: true })
    expect(await join(socket, 'team:a:4')).toEqual(refused('forbidden'))
    const held = server.io.of('/').sockets.get(socket.id!)!.rooms
    expect(held.has('team:a:4')).toBe(false)
    // A room already joined is not one more.
    expect(await join(socket, 'team:a:3')).toMatchObject({ ok: true })
    expect(await request(socket, 'rt:leave', envelope({ room: 'team:a:1' }))).toMatchObject({
      ok: true,
    })
    expect(await join(socket, 'team:a:4')).toMatchObject({ ok: true })
    expect(await refusals(server)).toContain('realtime_room_joins_refused_total{cap="socket"} 1')
  })

  it('holds a socket to 100 rooms by default', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { messageRate: { perSecond: 1e6, burst: 1000 } })
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ rooms: ['team:a:*'] }) },
    })
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, n) => join(socket, `team:a:${n}`)),
    )
    expect(replies.every((r) => r.ok)).toBe(true)
    expect(await join(socket, 'team:a:100')).toEqual(refused('forbidden'))
  })

  it("counts the user's server-managed rooms out: a cap of 1 still allows one room", async () => {
    const { url, token } = await capped({ perSocket: 1 })
    const socket = await connect(url, { auth: { token: await token() } })
    expect(await join(socket, 'team:a:1')).toMatchObject({ ok: true })
    expect(await join(socket, 'team:a:2')).toEqual(refused('forbidden'))
  })

  it("refuses a join past the per-user cap across the user's sockets, and a disconnect frees its rooms", async () => {
    const { server, url, token } = await capped({ perSocket: 10, perUser: 4 })
    const first = await connect(url, { auth: { token: await token() } })
    const second = await connect(url, { auth: { token: await token() } })
    for (const n of [1, 2, 3]) expect(await join(first, `team:a:${n}`)).toMatchObject({ ok: true })
    expect(await join(second, 'team:a:9')).toMatchObject({ ok: true })
    expect(await join(second, 'team:a:10')).toEqual(refused('forbidden'))
    expect(await join(first, 'team:a:11')).toEqual(refused('forbidden'))
    // Another user is not held to this one's cap.
    const other = await connect(url, {
      auth: { token: await token({ sub: 'user-2', sid: 's-2' }) },
    })
    expect(await join(other, 'team:a:10')).toMatchObject({ ok: true })
    first.close()
    await until(() => server.io.of('/').sockets.size === 2)
    expect(await join(second, 'team:a:10')).toMatchObject({ ok: true })
    expect(await refusals(server)).toContain('realtime_room_joins_refused_total{cap="user"} 2')
  })
})
