import type { Socket } from 'socket.io-client'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, client, connect, envelope, startIssuer, startServer } from '../support.ts'
import { disconnection, record, request, until } from '../waits.ts'

afterEach(cleanup)

const nowSeconds = () => Math.floor(Date.now() / 1000)

/**
 * Alice in `lobby` and `team:a:x` with connection state recovery on, bob in
 * both rooms to talk to her. `drop()` cuts alice's transport as a network
 * blip would (the session is kept server-side), `reconnect()` reconnects her
 * with whatever token `setToken` gave, as a client's auth callback would.
 */
async function recoverable() {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, {
    connectionStateRecovery: { maxDisconnectionDurationMs: 60_000 },
  })
  let token = await issuer.mint({ sub: 'u-a', sid: 's-a', name: 'alice' })
  const alice = await connect(url, { auth: (cb: (data: object) => void) => cb({ token }) })
  const bob = await connect(url, {
    auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b', name: 'bob' }) },
  })
  for (const room of ['lobby', 'team:a:x']) {
    expect(await request(alice, 'rt:join', envelope({ room }))).toMatchObject({ ok: true })
    expect(await request(bob, 'rt:join', envelope({ room }))).toMatchObject({ ok: true })
  }
  const delivered = record<{ text: string }>(alice, 'chat:message')
  // Everything that reaches alice's connection, delivered to her code or not.
  const onTheWire: string[] = []
  alice.io.on('packet', (packet) => {
    if (packet.type === 2 && packet.data?.[0] === 'chat:message')
      onTheWire.push(packet.data[1].text)
  })
  // A first broadcast gives the client an offset to recover from.
  await say(bob, 'lobby', 'before')
  await until(() => delivered.length === 1, { what: 'the first message' })
  const roomsOf = (id: string) => server.io.of('/').sockets.get(id)?.rooms

  return {
    issuer,
    server,
    alice,
    bob,
    delivered,
    onTheWire,
    roomsOf,
    setToken: (next: string) => (token = next),
    async drop() {
      const id = alice.id!
      const gone = disconnection(alice)
      alice.io.engine.close()
      // The client closed its own transport; the server sees a transport close, a recoverable reason.
      expect(await gone).toBe('forced close')
      await until(() => !server.io.of('/').sockets.has(id), { what: 'the server to see the drop' })
      return id
    },
    /** Reconnect; resolves to 'connect' or the connect_error's message. */
    reconnect(): Promise<string> {
      return new Promise((resolve) => {
        alice.once('connect', () => resolve('connect'))
        alice.once('connect_error', (err) => resolve(err.message))
        alice.connect()
      })
    },
  }
}

async function say(from: Socket, room: string, text: string): Promise<void> {
  expect(await request(from, 'chat:send', envelope({ room, text }))).toMatchObject({ ok: true })
}

describe('connection state recovery', () => {
  it('restores rooms and delivers missed messages to a socket that re-authenticates', async () => {
    const { issuer, alice, bob, delivered, drop, reconnect, setToken, roomsOf } =
      await recoverable()
    const id = await drop()
    await say(bob, 'lobby', 'missed')
    setToken(await issuer.mint({ sub: 'u-a', sid: 's-a', name: 'alice' }))

    expect(await reconnect()).toBe('connect')
    expect(alice.recovered).toBe(true)
    expect(alice.id).toBe(id)
    await until(() => delivered.length === 2, { what: 'the missed message' })
    expect(delivered.map((m) => m.text)).toEqual(['before', 'missed'])
    expect([...roomsOf(id)!].sort()).toEqual(
      [id, 'lobby', 'session:s-a', 'team:a:x', 'user:u-a'].sort(),
    )
    await say(bob, 'team:a:x', 'live')
    await until(() => delivered.length === 3)
    expect(delivered[2]).toMatchObject({ text: 'live', from: { sub: 'u-b', name: 'bob' } })
  })

  it('delivers nothing while re-authentication fails, and the missed messages once it succeeds', async () => {
    const { issuer, alice, bob, delivered, onTheWire, drop, reconnect, setToken } =
      await recoverable()
    await drop()
    await say(bob, 'lobby', 'missed')
    const now = nowSeconds()
    setToken(
      await issuer.mint({ sub: 'u-a', sid: 's-a', iat: now - 600, nbf: now - 600, exp: now - 60 }),
    )

    expect(await reconnect()).toBe('token_expired')
    expect(onTheWire).toEqual(['before'])

    setToken(await issuer.mint({ sub: 'u-a', sid: 's-a' }))
    expect(await reconnect()).toBe('connect')
    expect(alice.recovered).toBe(true)
    await until(() => delivered.length === 2, { what: 'the missed message' })
    expect(onTheWire).toEqual(['before', 'missed'])
  })

  it('refuses the reconnect of a session revoked while disconnected with token_revoked, and delivers no missed message', async () => {
    const { server, bob, delivered, onTheWire, drop, reconnect } = await recoverable()
    await drop()
    await say(bob, 'lobby', 'missed')
    const now = nowSeconds()
    server.revoke({ kind: 'session', id: 's-a', at: now, until: now + 300 })

    // The same, still unexpired token: only the revocation stands in the way.
    expect(await reconnect()).toBe('token_revoked')
    expect(delivered.map((m) => m.text)).toEqual(['before'])
    expect(onTheWire).toEqual(['before'])
    // And the refused socket is in no room: later messages do not reach it either.
    await say(bob, 'lobby', 'after')
    expect(onTheWire).toEqual(['before'])
  })

  it('does not give back a room the new token no longer allows, nor any message for it', async () => {
    const { issuer, alice, bob, onTheWire, drop, reconnect, setToken, roomsOf } =
      await recoverable()
    const id = await drop()
    await say(bob, 'team:a:x', 'missed team')
    setToken(await issuer.mint({ sub: 'u-a', sid: 's-a', rooms: ['lobby'] }))

    expect(await reconnect()).toBe('connect')
    expect(alice.recovered).toBe(true)
    const rooms = roomsOf(id)!
    expect(rooms.has('team:a:x')).toBe(false)
    expect(rooms.has('lobby')).toBe(true)
    await say(bob, 'team:a:x', 'live team')
    await say(bob, 'lobby', 'live lobby')
    await until(() => onTheWire.includes('live lobby'), { what: 'the lobby message' })
    expect(onTheWire).not.toContain('missed team')
    expect(onTheWire).not.toContain('live team')
    expect(
      await request(alice, 'chat:send', envelope({ room: 'team:a:x', text: 'x' })),
    ).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    })
  })

  it("gives nothing of the session to a reconnect with another user's token", async () => {
    const { issuer, alice, bob, onTheWire, drop, reconnect, setToken, roomsOf } =
      await recoverable()
    const id = await drop()
    await say(bob, 'lobby', 'missed')
    setToken(await issuer.mint({ sub: 'u-m', sid: 's-m', name: 'mallory' }))

    expect(await reconnect()).toBe('connect')
    expect([...roomsOf(id)!].sort()).toEqual([id, 'session:s-m', 'user:u-m'].sort())
    await say(bob, 'lobby', 'live')
    // A round trip on alice's connection: anything sent to her before it has arrived.
    expect(await request(alice, 'rt:join', envelope({ room: 'team:b:x' }))).toMatchObject({
      ok: false,
    })
    expect(onTheWire).toEqual(['before'])
  })
})

describe('without connection state recovery', () => {
  it('a reconnect is a fresh connection with no rooms and no missed messages', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const token = await issuer.mint({ sub: 'u-a', sid: 's-a' })
    const alice = client(url, { auth: { token } })
    await new Promise<void>((resolve) => alice.once('connect', () => resolve()))
    const bob = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b' }) },
    })
    await request(alice, 'rt:join', envelope({ room: 'lobby' }))
    await request(bob, 'rt:join', envelope({ room: 'lobby' }))
    const delivered = record(alice, 'chat:message')
    const gone = disconnection(alice)
    alice.io.engine.close()
    await gone
    await say(bob, 'lobby', 'missed')
    await new Promise<void>((resolve) => {
      alice.once('connect', () => resolve())
      alice.connect()
    })
    expect(alice.recovered).toBeFalsy()
    await say(bob, 'lobby', 'live')
    expect(await request(alice, 'chat:send', envelope({ room: 'lobby', text: 'x' }))).toMatchObject(
      { error: { code: 'forbidden' } },
    )
    expect(delivered).toEqual([])
  })
})
