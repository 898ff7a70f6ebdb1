import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, next, startIssuer, startServer } from '../support.ts'
import { disconnection, request } from '../waits.ts'
import { post, serviceToken } from '../api/service.ts'

afterEach(cleanup)

async function setUp(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { url } = await startServer(issuer, options)
  const token = await serviceToken(issuer)
  const alice = async () =>
    connect(url, { auth: { token: await issuer.mint({ sub: 'alice', sid: 's-a' }) } })
  const publish = async (n: number) => {
    const reply = await post(
      url,
      '/api/v1/publish',
      { to: { user: 'alice' }, event: 'inbox.new', data: { n }, id: `m-${n}` },
      token,
    )
    expect(reply.status).toBe(202)
    return reply.body as { id: string; offset: string }
  }
  return { url, token, alice, publish }
}

/** Send rt:sync and capture every event that arrived before its ack. */
async function sync(socket: Awaited<ReturnType<typeof connect>>, since: string | null) {
  const before: [string, any][] = []
  const listener = (event: string, payload: unknown) => before.push([event, payload])
  socket.onAny(listener)
  const ack = await request(socket, 'rt:sync', envelope({ since }))
  socket.offAny(listener)
  return { ack, before }
}

describe('rt:sync (docs/protocol.md §9)', () => {
  it('replays exactly the entries published while offline, in order, as delivered live, before the ack', async () => {
    const { alice, publish } = await setUp()
    const first = await alice()
    const live = next(first, 'inbox.new')
    const one = await publish(1)
    const delivered = await live
    expect(delivered).toEqual({
      id: 'm-1',
      from: 'svc-test',
      ts: expect.any(Number),
      data: { n: 1 },
      offset: one.offset,
    })
    const gone = disconnection(first)
    first.disconnect()
    await gone
    const missed = [await publish(2), await publish(3), await publish(4)]

    const again = await alice()
    const { ack, before } = await sync(again, delivered.offset)
    expect(before).toEqual(
      missed.map((m, i) => [
        'inbox.new',
        {
          id: m.id,
          from: 'svc-test',
          ts: expect.any(Number),
          data: { n: i + 2 },
          offset: m.offset,
        },
      ]),
    )
    expect(ack).toEqual({ ok: true, data: { delivered: 3, last: missed[2]!.offset, gap: false } })
    // Caught up: nothing more, same last.
    expect(await sync(again, missed[2]!.offset)).toEqual({
      ack: { ok: true, data: { delivered: 0, last: missed[2]!.offset, gap: false } },
      before: [],
    })
  })

  it('with since null delivers nothing and returns the current last; a user without a stream has last null', async () => {
    const { alice, publish } = await setUp()
    const socket = await alice()
    expect(await sync(socket, null)).toEqual({
      ack: { ok: true, data: { delivered: 0, last: null, gap: false } },
      before: [],
    })
    const live = next(socket, 'inbox.new')
    const { offset } = await publish(1)
    await live
    expect(await sync(socket, null)).toEqual({
      ack: { ok: true, data: { delivered: 0, last: offset, gap: false } },
      before: [],
    })
  })

  it('reports a gap when retention dropped entries after since, still replaying what is kept', async () => {
    const { alice, publish } = await setUp({ serverApi: { userStream: { maxEntries: 2 } } })
    const socket = await alice()
    const live = next(socket, 'inbox.new')
    const { offset } = await publish(1)
    await live
    const gone = disconnection(socket)
    socket.disconnect()
    await gone
    for (const n of [2, 3, 4]) await publish(n)
    const { ack, before } = await sync(await alice(), offset)
    expect(before.map(([, p]) => p.data.n)).toEqual([3, 4])
    expect(ack).toMatchObject({ ok: true, data: { delivered: 2, gap: true } })
  })

  it('reports a gap for an offset this stream never had, and refuses a since that is not an offset or null', async () => {
    const { alice, publish } = await setUp()
    const socket = await alice()
    const live = next(socket, 'inbox.new')
    const { offset } = await publish(1)
    await live
    for (const since of ['zzzz-1', `${offset.slice(0, -1)}9`, '1700000000000-0']) {
      expect(await sync(socket, since)).toEqual({
        ack: { ok: true, data: { delivered: 0, last: offset, gap: true } },
        before: [],
      })
    }
    for (const since of [5, 'a b', 'x'.repeat(65), undefined]) {
      const ack = await request(socket, 'rt:sync', envelope(since === undefined ? {} : { since }))
      expect(ack).toMatchObject({ ok: false, error: { code: 'envelope_invalid' } })
    }
  })

  it('replays a full stream of large entries to a reading client without tripping the slow-consumer bound', async () => {
    const { url, token, alice } = await setUp({
      serverApi: { rate: { perSecond: 1000, burst: 1000 } },
    })
    // 100 entries of almost 16 KiB: 1.6 MB, over the 1 MiB a connection may have queued.
    const data = 'x'.repeat(16 * 1024 - 64)
    const offsets: string[] = []
    for (let n = 0; n < 100; n++) {
      const reply = await post(
        url,
        '/api/v1/publish',
        { to: { user: 'alice' }, event: 'inbox.big', data },
        token,
      )
      expect(reply.status).toBe(202)
      offsets.push(reply.body.offset)
    }
    const socket = await alice()
    const { ack, before } = await sync(socket, offsets[0]!)
    expect(before.map(([, p]) => p.offset)).toEqual(offsets.slice(1))
    expect(ack).toEqual({ ok: true, data: { delivered: 99, last: offsets[99], gap: false } })
    expect(socket.connected).toBe(true)
  })
})
