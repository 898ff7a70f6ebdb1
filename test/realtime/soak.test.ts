/**
 * Many short connections leave nothing behind: after connect, join, send and
 * disconnect cycles, the node holds no connection, room, presence member or
 * per-user slot for them (the issue 14 soak, at a size a test run affords;
 * the 20,000-cycle soak is `npm run bench`'s memory section's job).
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, startIssuer, startServer } from './support.ts'
import { disconnection, request, until } from './waits.ts'

afterEach(cleanup)

/** Cycles per user; users run in parallel, each one cycle at a time. */
const CYCLES_PER_USER = 60
const USERS = 10
const PER_USER_CAP = 3

describe('soak: connect, join, send, disconnect', () => {
  it(`leaves no connection, room, presence member or per-user slot after ${CYCLES_PER_USER * USERS} cycles`, async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, {
      limits: { perUser: PER_USER_CAP, ratePerSecond: 100_000, burst: 100_000 },
      presence: { graceMs: 0 },
    })
    const nsp = server.io.of('/')
    const baselineRooms = nsp.adapter.rooms.size
    const failures: unknown[] = []

    await Promise.all(
      Array.from({ length: USERS }, async (_, u) => {
        const token = await issuer.mint({ sub: `soak-${u}`, sid: `soak-session-${u}` })
        for (let i = 0; i < CYCLES_PER_USER; i++) {
          try {
            const socket = await connect(url, { auth: { token } })
            const joined = await request(socket, 'rt:join', envelope({ room: 'lobby' }))
            const sent = await request(
              socket,
              'chat:send',
              envelope({ room: 'lobby', text: `m${i}` }),
            )
            if (!joined.ok || !sent.ok) failures.push({ joined, sent })
            const closed = disconnection(socket)
            socket.disconnect()
            await closed
          } catch (err) {
            failures.push(err)
          }
        }
      }),
    )

    expect(failures).toEqual([])
    // The server sees each close a moment after the client: wait for the last.
    await until(() => server.io.engine.clientsCount === 0, {
      timeoutMs: 30_000,
      what: 'all closed',
    })
    await until(() => nsp.sockets.size === 0, { timeoutMs: 30_000, what: 'no sockets' })
    await until(() => nsp.adapter.rooms.size === baselineRooms, {
      timeoutMs: 30_000,
      what: 'no rooms',
    })
    const gauge = async (name: string) =>
      server.metrics.registry.getSingleMetricAsString(name).then((text) => {
        const value = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]
        return Number(value)
      })
    expect(await gauge('realtime_connections')).toBe(0)
    // Presence forgets a user once the (zero) grace has passed.
    for (let i = 0; i < 300 && (await gauge('realtime_presence_entries')) !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(await gauge('realtime_presence_entries')).toBe(0)
    expect(await gauge('realtime_presence_rooms')).toBe(0)

    // No per-user slot leaked: each user can again open exactly its cap.
    const token = await issuer.mint({ sub: 'soak-0', sid: 'soak-session-0' })
    const again = await Promise.all(
      Array.from({ length: PER_USER_CAP }, () => connect(url, { auth: { token } })),
    )
    expect(again.every((s) => s.connected)).toBe(true)
  }, 240_000)
})
