/**
 * The client's presence view against a real realtime server over real
 * sockets (docs/protocol.md §10): the first query, batches applied as they
 * come, and a fresh query after a reconnect.
 */
import type { Socket } from 'socket.io-client'
import { afterEach, describe, expect, it } from 'vitest'
import { PresenceView, type PresenceTransport } from '../../../shared/client/presence-view.ts'
import {
  cleanup,
  client,
  connect,
  envelope,
  startIssuer,
  startServer,
} from '../../realtime/support.ts'
import { request, until } from '../../realtime/waits.ts'

afterEach(cleanup)

/** What RealtimeClient gives the view, over a raw socket that re-joins `room` on every connect. */
function transport(socket: Socket, room: string): PresenceTransport {
  socket.on('connect', () => void request(socket, 'rt:join', envelope({ room })))
  return {
    async emit(event, data) {
      const ack = await request(socket, event, envelope(data))
      if (!ack.ok) throw new Error(ack.error.code)
      return ack.data
    },
    on(event, handler) {
      socket.on(event, handler)
      return () => void socket.off(event, handler)
    },
  }
}

describe('PresenceView', () => {
  it('starts from the query, follows joins and leaves, and queries again after a reconnect', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, {
      presence: { graceMs: 0, batchMs: 1000, flushTickMs: 25 },
    })
    const token = (sub: string, name: string) => issuer.mint({ sub, name, sid: `s-${sub}` })
    const alice = client(url, {
      auth: { token: await token('u-alice', 'alice') },
      reconnection: true,
      reconnectionDelay: 4000,
      reconnectionDelayMax: 4000,
      randomizationFactor: 0,
    })
    const seen: string[][] = []
    const view = new PresenceView(transport(alice, 'lobby'), 'lobby', {
      onChange: (m) => seen.push(m.map((x) => x.sub)),
    })
    await new Promise<void>((resolve) => alice.once('connect', () => resolve()))
    await until(() => server.io.of('/').adapter.rooms.get('lobby')?.size === 1, {
      what: 'alice in the lobby',
    })
    await view.start()
    expect(view.list()).toEqual([{ sub: 'u-alice', name: 'alice' }])

    const bob = await connect(url, { auth: { token: await token('u-bob', 'bob') } })
    await request(bob, 'rt:join', envelope({ room: 'lobby' }))
    await until(() => view.list().some((m) => m.sub === 'u-bob'), {
      what: 'bob in the view',
      timeoutMs: 10_000,
    })
    bob.close()
    await until(() => !view.list().some((m) => m.sub === 'u-bob'), {
      what: 'bob out of the view',
      timeoutMs: 10_000,
    })

    // While alice is away carol comes, and the batch announcing her goes out (dave sees it): only a new query can show her.
    const dave = await connect(url, { auth: { token: await token('u-dave', 'dave') } })
    await request(dave, 'rt:join', envelope({ room: 'lobby' }))
    const daveSaw: string[] = []
    dave.on('rt:presence', (b: { joined: { sub: string }[] }) =>
      daveSaw.push(...b.joined.map((j) => j.sub)),
    )
    server.io.of('/').sockets.get(alice.id!)!.conn.close()
    await until(() => !alice.connected, { what: 'alice away' })
    const carol = await connect(url, { auth: { token: await token('u-carol', 'carol') } })
    await request(carol, 'rt:join', envelope({ room: 'lobby' }))
    await until(() => daveSaw.includes('u-carol'), {
      what: 'the batch with carol',
      timeoutMs: 10_000,
    })
    expect(alice.connected).toBe(false)
    await until(() => view.list().some((m) => m.sub === 'u-carol'), {
      what: 'carol after the reconnect',
      timeoutMs: 15_000,
    })
    expect(view.list().map((m) => m.sub)).toEqual(['u-alice', 'u-carol', 'u-dave'])
    view.close()
  })
})
