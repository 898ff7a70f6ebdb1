/**
 * Presence on one node over real sockets (docs/protocol.md §10): users not
 * sockets, the grace period, batches, and the refusals of `rt:presence`.
 * Grace and batch are short here; assertions are on the order of events,
 * never on durations.
 */
import type { Socket } from 'socket.io-client'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { record, request, settle, until } from '../waits.ts'

afterEach(cleanup)

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })
/** Grace and batch are long: the test moves the server's clock past them, so nothing happens by the wall clock alone. */
const GRACE_MS = 60_000
const BATCH_MS = 1000
/** Real time that lets a broken grace (deadlines tick every 250 ms) show; never needed to pass. */
const SHOW_MS = 1000

async function setUp(presence: Record<string, number> = {}) {
  const issuer = await startIssuer()
  let offset = 0
  const clock = { advance: (ms: number) => void (offset += ms) }
  const { server, url } = await startServer(issuer, {
    now: () => Date.now() + offset,
    presence: { graceMs: GRACE_MS, batchMs: BATCH_MS, flushTickMs: 25, ...presence },
  })
  const user = async (sub: string, name: string, sid = `s-${sub}-${Math.random()}`) => {
    const socket = await connect(url, { auth: { token: await issuer.mint({ sub, name, sid }) } })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    return socket
  }
  const gone = (n: number) =>
    until(() => server.io.of('/').sockets.size === n, { what: `${n} sockets left` })
  return { issuer, server, url, user, clock, gone }
}

async function members(socket: Socket, room = 'lobby') {
  const ack = await request(socket, 'rt:presence', envelope({ room }))
  expect(ack).toMatchObject({ ok: true })
  return ack.data.members as { sub: string; name: string; connections: number }[]
}

/** Every batch's changes as `+sub` / `-sub`, in arrival order. */
function changes(batches: { joined: { sub: string }[]; left: { sub: string }[] }[]): string[] {
  return batches.flatMap((b) => [
    ...b.joined.map((j) => `+${j.sub}`),
    ...b.left.map((l) => `-${l.sub}`),
  ])
}

describe('rt:presence query', () => {
  it('lists users, not sockets: two tabs of alice are one member with two connections', async () => {
    const { user } = await setUp()
    const bob = await user('u-bob', 'bob')
    await user('u-alice', 'alice')
    await user('u-alice', 'alice')
    expect(await members(bob)).toEqual([
      { sub: 'u-alice', name: 'alice', connections: 2 },
      { sub: 'u-bob', name: 'bob', connections: 1 },
    ])
  })

  it('refuses a room the socket has not joined with forbidden', async () => {
    const { user } = await setUp()
    const bob = await user('u-bob', 'bob')
    expect(await request(bob, 'rt:presence', envelope({ room: 'team:a:x' }))).toEqual(
      refused('forbidden'),
    )
  })

  it.each([['user:u-bob'], ['session:s-bob']])(
    'refuses the server-managed room %s, which the socket is in, with forbidden',
    async (room) => {
      const { user } = await setUp()
      const bob = await user('u-bob', 'bob', 's-bob')
      expect(await request(bob, 'rt:presence', envelope({ room }))).toEqual(refused('forbidden'))
    },
  )

  it("refuses the socket's own private room with forbidden", async () => {
    const { user } = await setUp()
    const bob = await user('u-bob', 'bob')
    expect(await request(bob, 'rt:presence', envelope({ room: bob.id }))).toEqual(
      refused('forbidden'),
    )
  })

  it.each([
    ['an unknown key', { room: 'lobby', extra: 1 }],
    ['a non-string cursor', { room: 'lobby', cursor: 5 }],
    ['a cursor that is not one of ours', { room: 'lobby', cursor: '!!' }],
    ['a non-canonical cursor', { room: 'lobby', cursor: 'dQ' + 'x' }],
    ['no room', {}],
  ])('refuses %s with envelope_invalid', async (_what, data) => {
    const { user } = await setUp()
    const bob = await user('u-bob', 'bob')
    expect(await request(bob, 'rt:presence', envelope(data))).toEqual(refused('envelope_invalid'))
  })
})

describe('grace and batches', () => {
  it('one of two tabs closing keeps alice; both closing makes her leave after the grace, not before', async () => {
    const { user, clock, gone } = await setUp()
    const bob = await user('u-bob', 'bob')
    const batches = record(bob, 'rt:presence')
    const tab1 = await user('u-alice', 'alice')
    const tab2 = await user('u-alice', 'alice')
    clock.advance(BATCH_MS)
    await until(() => changes(batches).includes('+u-alice'), { what: 'alice joined' })
    tab1.close()
    await gone(2)
    clock.advance(GRACE_MS * 2)
    expect(await members(bob)).toContainEqual({ sub: 'u-alice', name: 'alice', connections: 1 })
    tab2.close()
    await gone(1)
    // Real time for a grace that were not kept (deadlines tick every 250 ms) to show, then carol as a marker:
    // her join's batch comes after anything alice's sockets closing could have caused.
    await settle(SHOW_MS)
    expect(await members(bob)).toContainEqual({ sub: 'u-alice', name: 'alice', connections: 0 })
    await user('u-carol', 'carol')
    clock.advance(BATCH_MS * 2)
    await until(() => changes(batches).includes('+u-carol'), { what: 'carol joined' })
    expect(changes(batches)).toEqual(['+u-bob', '+u-alice', '+u-carol'])
    expect(await members(bob)).toContainEqual({ sub: 'u-alice', name: 'alice', connections: 0 })
    clock.advance(GRACE_MS)
    await until(() => changes(batches).includes('-u-alice'), { what: 'alice left' })
    expect(changes(batches)).toEqual(['+u-bob', '+u-alice', '+u-carol', '-u-alice'])
    expect((await members(bob)).map((m) => m.sub)).toEqual(['u-bob', 'u-carol'])
  })

  it('a reload inside the grace shows nothing to bob, while a user who stays away leaves', async () => {
    const { user, clock, gone } = await setUp()
    const bob = await user('u-bob', 'bob')
    const alice = await user('u-alice', 'alice')
    const carol = await user('u-carol', 'carol')
    const batches = record(bob, 'rt:presence')
    clock.advance(BATCH_MS)
    await until(() => changes(batches).includes('+u-carol'), { what: 'the first batch' })
    batches.length = 0
    alice.close()
    carol.close()
    await gone(1)
    // Time for a broken grace to show, and a batch flushed (dave's join as the marker) before alice is back,
    // so that a leave of hers could not cancel out with her return.
    await settle(SHOW_MS)
    await user('u-dave', 'dave')
    clock.advance(BATCH_MS)
    await until(() => changes(batches).includes('+u-dave'), { what: 'dave joined' })
    await user('u-alice', 'alice')
    clock.advance(GRACE_MS + BATCH_MS)
    await until(() => changes(batches).includes('-u-carol'), { what: 'carol left' })
    expect(changes(batches)).toEqual(['+u-dave', '-u-carol'])
    expect(await members(bob)).toEqual([
      { sub: 'u-alice', name: 'alice', connections: 1 },
      { sub: 'u-bob', name: 'bob', connections: 1 },
      { sub: 'u-dave', name: 'dave', connections: 1 },
    ])
  })

  it('several joins in one window arrive as one batch', async () => {
    // A window far longer than the joins take: at BATCH_MS it would close by the wall clock
    // alone if the three handshakes took a second on a loaded machine.
    const { user, clock } = await setUp({ batchMs: 60_000 })
    const bob = await user('u-bob', 'bob')
    const batches = record(bob, 'rt:presence')
    await Promise.all(['a', 'b', 'c'].map((n) => user(`u-${n}`, n)))
    clock.advance(60_000)
    await until(() => batches.length > 0, { what: 'a batch' })
    expect(batches).toEqual([
      {
        room: 'lobby',
        joined: expect.arrayContaining([
          { sub: 'u-bob', name: 'bob' },
          { sub: 'u-a', name: 'a' },
          { sub: 'u-b', name: 'b' },
          { sub: 'u-c', name: 'c' },
        ]),
        left: [],
      },
    ])
    expect(batches[0].joined).toHaveLength(4)
  })

  it('a join then a leave within one batch, and a leave then a rejoin, appear in neither list', async () => {
    // A batch far longer than the steps below take, so they all fall in one.
    const { user, clock, gone } = await setUp({ graceMs: 0, batchMs: 60_000 })
    const bob = await user('u-bob', 'bob')
    const batches = record(bob, 'rt:presence')
    const dave = await user('u-dave', 'dave')
    clock.advance(60_000)
    await until(() => changes(batches).includes('+u-dave'), { what: 'the first batch' })
    batches.length = 0
    const carol = await user('u-carol', 'carol')
    carol.close()
    dave.close()
    await gone(1)
    const listed = async () => (await members(bob)).map((m) => m.sub).join()
    for (let i = 0; i < 500 && (await listed()) !== 'u-bob'; i++)
      await new Promise((r) => setTimeout(r, 10))
    expect(await listed()).toBe('u-bob')
    await user('u-dave', 'dave')
    await user('u-erin', 'erin')
    clock.advance(60_000)
    await until(() => batches.length > 0, { what: 'the batch' })
    expect(batches).toEqual([
      { room: 'lobby', joined: [{ sub: 'u-erin', name: 'erin' }], left: [] },
    ])
  })
})

describe('bounds', () => {
  const metric = async (
    server: { metrics: { registry: { metrics(): Promise<string> } } },
    line: string,
  ) => (await server.metrics.registry.metrics()).split('\n').find((l) => l.startsWith(line))

  it('tracks at most maxRooms rooms per node: a socket joins a further room unlisted, and the metric counts it', async () => {
    const { server, user } = await setUp({ maxRooms: 1 })
    const bob = await user('u-bob', 'bob')
    expect(await request(bob, 'rt:join', envelope({ room: 'team:a:x' }))).toMatchObject({
      ok: true,
    })
    expect(await members(bob, 'team:a:x')).toEqual([])
    expect(await members(bob)).toEqual([{ sub: 'u-bob', name: 'bob', connections: 1 }])
    expect(await metric(server, 'realtime_presence_untracked_total{reason="rooms_full"}')).toMatch(
      / 1$/,
    )
    expect(await metric(server, 'realtime_presence_rooms')).toMatch(/ 1$/)
  })

  it('lists at most maxMembersPerRoom users in a room, and the metric counts the others', async () => {
    const { server, user } = await setUp({ maxMembersPerRoom: 2 })
    const bob = await user('u-bob', 'bob')
    await user('u-a', 'a')
    await user('u-b', 'b')
    expect((await members(bob)).map((m) => m.sub)).toEqual(['u-a', 'u-bob'])
    expect(await metric(server, 'realtime_presence_untracked_total{reason="room_full"}')).toMatch(
      / 1$/,
    )
  })

  it('splits a batch over maxBatchChanges into several messages of the same flush, and counts pending changes', async () => {
    // A batch the wall clock cannot end: a 1 s one flushed by itself while a loaded machine
    // connected the four users, and the pending count below read 2, not 5.
    const batchMs = 20 * BATCH_MS
    const { server, user, clock } = await setUp({ maxBatchChanges: 2, batchMs })
    const bob = await user('u-bob', 'bob')
    const batches = record(bob, 'rt:presence')
    await Promise.all(['a', 'b', 'c', 'd'].map((n) => user(`u-${n}`, n)))
    expect(await metric(server, 'realtime_presence_pending_changes')).toMatch(/ 5$/)
    clock.advance(batchMs)
    await until(() => changes(batches).length === 5, { what: 'five changes' })
    expect(batches.map((b) => b.joined.length + b.left.length)).toEqual([2, 2, 1])
    expect(await metric(server, 'realtime_presence_messages_total')).toMatch(/ 3$/)
    expect(await metric(server, 'realtime_presence_pending_changes')).toMatch(/ 0$/)
  })
})
