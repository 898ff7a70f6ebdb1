import { Manager } from 'socket.io-client'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import type { SocketMiddleware } from '../../../realtime/admission/handshake.ts'
import { ConnectionLimits } from '../../../realtime/limits/connection-limits.ts'
import { cleanup, client, connect, startIssuer, startServer } from '../support.ts'
import { until } from '../waits.ts'

/** A handshake whose connection is open; the test can close it. */
function pending(id: string): { id: string; conn: { readyState: string } } {
  return { id, conn: { readyState: 'open' } }
}

/** Whether `sub` could take one more slot (a probe reservation, given back at once). */
function hasRoom(limits: ConnectionLimits, sub: string): boolean {
  const ok = limits.reserveUser(sub, pending('probe'))
  limits.releaseUser(sub, 'probe')
  return ok
}

let ids = 0
describe('ConnectionLimits', () => {
  it('admits a burst of new connections per address, then says how long to wait', () => {
    const limits = new ConnectionLimits({ ratePerSecond: 2, burst: 2 })
    expect([limits.admitAddress('10.0.0.1', 0), limits.admitAddress('10.0.0.1', 0)]).toEqual([0, 0])
    expect(limits.admitAddress('10.0.0.1', 0)).toBe(500)
    expect(limits.admitAddress('10.0.0.2', 0)).toBe(0)
    expect(limits.admitAddress('10.0.0.1', 500)).toBe(0)
  })

  it('refuses an address at its cap of open connections until one is released', () => {
    const limits = new ConnectionLimits({ perAddress: 2, ratePerSecond: 1000, burst: 1000 })
    limits.open('10.0.0.1', 'u-1', `s-${++ids}`)
    limits.open('10.0.0.1', 'u-2', `s-${++ids}`)
    expect(limits.admitAddress('10.0.0.1', 0)).toBeGreaterThan(0)
    expect(limits.admitAddress('10.0.0.2', 0)).toBe(0)
    limits.close('10.0.0.1', 'u-1')
    expect(limits.admitAddress('10.0.0.1', 0)).toBe(0)
  })

  it('caps open connections per user across addresses', () => {
    const limits = new ConnectionLimits({ perUser: 2 })
    limits.open('10.0.0.1', 'u-1', `s-${++ids}`)
    expect(hasRoom(limits, 'u-1')).toBe(true)
    limits.open('10.0.0.2', 'u-1', `s-${++ids}`)
    expect(hasRoom(limits, 'u-1')).toBe(false)
    expect(hasRoom(limits, 'u-2')).toBe(true)
    limits.close('10.0.0.2', 'u-1')
    expect(hasRoom(limits, 'u-1')).toBe(true)
  })

  it('counts each open until its close, and keeps no state for a closed address or user', () => {
    const limits = new ConnectionLimits({
      perUser: 1,
      perAddress: 1,
      ratePerSecond: 1000,
      burst: 1000,
    })
    limits.open('10.0.0.1', 'u-1', `s-${++ids}`)
    limits.open('10.0.0.2', 'u-1', `s-${++ids}`)
    limits.close('10.0.0.1', 'u-1')
    expect(hasRoom(limits, 'u-1')).toBe(false)
    expect(limits.admitAddress('10.0.0.1', 0)).toBe(0)
    expect(limits.admitAddress('10.0.0.2', 0)).toBeGreaterThan(0)
    limits.close('10.0.0.2', 'u-1')
    expect(hasRoom(limits, 'u-1')).toBe(true)
    expect(limits.admitAddress('10.0.0.2', 0)).toBe(0)
    // A close more than the opens does not go below zero: the cap still holds after it.
    limits.close('10.0.0.2', 'u-1')
    limits.open('10.0.0.2', 'u-1', `s-${++ids}`)
    expect(hasRoom(limits, 'u-1')).toBe(false)
  })

  it('reserves a user slot per verified handshake until it opens, so handshakes verified in one tick cannot pass the cap together', () => {
    const limits = new ConnectionLimits({ perUser: 2 })
    expect(limits.reserveUser('u', pending('a'))).toBe(true)
    expect(limits.reserveUser('u', pending('b'))).toBe(true)
    expect(limits.reserveUser('u', pending('c'))).toBe(false)
    limits.open('10.0.0.1', 'u', 'a') // turns a reservation into an open slot: still two taken
    expect(limits.reserveUser('u', pending('c'))).toBe(false)
    limits.close('10.0.0.1', 'u')
    expect(limits.reserveUser('u', pending('c'))).toBe(true)
  })

  it('gives a refused handshake its slot back at once, and only once', () => {
    const limits = new ConnectionLimits({ perUser: 2 })
    expect(limits.reserveUser('u', pending('a'))).toBe(true)
    expect(limits.reserveUser('u', pending('b'))).toBe(true)
    limits.releaseUser('u', 'a')
    limits.releaseUser('u', 'a')
    expect(limits.reserveUser('u', pending('c'))).toBe(true)
    // The second release of a freed nothing: b and c hold the two slots.
    expect(limits.reserveUser('u', pending('d'))).toBe(false)
  })

  it('ignores a release after the socket opened: it can never free a slot another handshake holds', () => {
    const limits = new ConnectionLimits({ perUser: 2 })
    expect(limits.reserveUser('u', pending('a'))).toBe(true)
    limits.open('10.0.0.1', 'u', 'a')
    expect(limits.reserveUser('u', pending('b'))).toBe(true)
    limits.releaseUser('u', 'a')
    expect(limits.reserveUser('u', pending('c'))).toBe(false)
  })

  it.each(['closing', 'closed'])(
    'gives up the reservation of a handshake whose connection is %s (its client went before connecting)',
    (state) => {
      const limits = new ConnectionLimits({ perUser: 1 })
      const a = pending('a')
      expect(limits.reserveUser('u', a)).toBe(true)
      expect(limits.reserveUser('u', pending('b'))).toBe(false)
      a.conn.readyState = state
      expect(limits.reserveUser('u', pending('b'))).toBe(true)
    },
  )

  it("sweeps every user's gone handshakes once many users hold reservations", () => {
    const limits = new ConnectionLimits({ perUser: 1 })
    const handshakes = Array.from({ length: 2000 }, (_, n) => pending(`h-${n}`))
    handshakes.forEach((h, n) => limits.reserveUser(`u-${n}`, h))
    for (const h of handshakes) h.conn.readyState = 'closed'
    limits.reserveUser('someone-else', pending('x'))
    // Every gone user was forgotten: each can reserve again at a cap of 1.
    expect(handshakes.every((_, n) => limits.reserveUser(`u-${n}`, pending(`again-${n}`)))).toBe(
      true,
    )
  })
})

describe('the per-user connection cap over real sockets (hardening: issue 15 item 4)', () => {
  afterEach(cleanup)

  /** A server whose application middleware takes 20 ms (a database lookup, say) and refuses `auth.deny`. */
  async function capped(perUser: number, middleware?: SocketMiddleware) {
    const issuer = await startIssuer()
    const slow: SocketMiddleware = (socket, next) => {
      setTimeout(() => next(socket.handshake.auth.deny ? new Error('denied') : undefined), 20)
    }
    const { server, url } = await startServer(issuer, {
      limits: { perUser, ratePerSecond: 10_000, burst: 10_000 },
      middleware: middleware ?? slow,
    })
    const token = await issuer.mint()
    /** Open `n` handshakes of the one user at once; how many connected, and the refusals' messages. */
    const race = async (n: number, auth: Record<string, unknown> = {}) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: n }, () => connect(url, { auth: { token, ...auth } })),
      )
      return {
        connected: outcomes.filter((o) => o.status === 'fulfilled').length,
        refused: outcomes.flatMap((o) =>
          o.status === 'rejected' ? [(o.reason as Error).message] : [],
        ),
      }
    }
    return { server, url, token, race }
  }

  it('admits exactly the cap of 40 concurrent handshakes of one user behind a 20 ms async middleware', async () => {
    const { server, race } = await capped(20)
    const { connected, refused } = await race(40)
    expect(connected).toBe(20)
    expect(refused).toEqual(Array(20).fill('rate_limited'))
    expect(server.io.of('/').sockets.size).toBe(20)
  })

  it('gives the slot of a handshake a later middleware refused back at once', async () => {
    const { race } = await capped(3)
    expect(await race(3, { deny: true })).toEqual({
      connected: 0,
      refused: Array(3).fill('denied'),
    })
    expect(await race(3)).toEqual({ connected: 3, refused: [] })
    expect(await race(1)).toEqual({ connected: 0, refused: ['rate_limited'] })
  })

  it('gives the slot back while the refused client keeps its connection open for another namespace', async () => {
    const { server, url, token, race } = await capped(2)
    server.use('/keep', (_socket, next) => next())
    // One Engine.IO connection carries both namespaces, so refusing '/' does not close it.
    const manager = new Manager(url, { reconnection: false, transports: ['websocket'] })
    onTestFinished(() => void manager.engine?.close())
    const kept = manager.socket('/keep', { auth: { token } })
    await new Promise<void>((resolve, reject) => {
      kept.once('connect', resolve)
      kept.once('connect_error', reject)
    })
    const refused = manager.socket('/', { auth: { token, deny: true } })
    expect(
      await new Promise((resolve) => refused.once('connect_error', (e) => resolve(e.message))),
    ).toBe('denied')
    expect(kept.connected).toBe(true)
    expect(await race(1)).toEqual({ connected: 1, refused: [] })
  })

  it('gives the slot of a handshake whose client went before connecting back', async () => {
    const waiting: (() => void)[] = []
    const held: SocketMiddleware = (_socket, next) => void waiting.push(() => next())
    const { server, url, token, race } = await capped(1, held)
    const gone = client(url, { auth: { token } })
    await until(() => waiting.length === 1, { what: 'the first handshake in the middleware' })
    gone.close()
    await until(() => server.io.engine.clientsCount === 0, { what: 'the server to see it gone' })
    waiting.shift()!()
    const late = race(1)
    await until(() => waiting.length === 1, { what: 'the second handshake in the middleware' })
    waiting.shift()!()
    expect(await late).toEqual({ connected: 1, refused: [] })
  })
})
