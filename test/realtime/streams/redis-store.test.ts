import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisPublishStore } from '../../../realtime/streams/redis-store.ts'
import { cleanup, connectRedis, type TestRedisClient } from '../../cluster/support.ts'

let client: TestRedisClient
let user = 0
/** A fresh user per test: the stream keys of one Redis. */
const nextUser = () => `u-${process.pid}-${++user}`
const pub = (n: number) => ({
  id: `m-${n}-${user}`,
  from: 'svc',
  ts: Date.now(),
  event: 'note',
  data: { n },
})

beforeAll(async () => {
  ;({ client } = await connectRedis())
}, 30_000)
afterAll(() => cleanup())

describe('the Redis publish store (Redis Streams)', () => {
  it('appends once per (client, id) and answers a repeat with the first answer', async () => {
    const store = createRedisPublishStore(client)
    const sub = nextUser()
    const first = await store.accept('svc', { user: sub }, pub(1))
    expect(first).toEqual({
      first: true,
      answer: { id: pub(1).id, offset: expect.stringMatching(/^\d+-\d+$/) },
    })
    expect(await store.accept('svc', { user: sub }, pub(1))).toEqual({
      first: false,
      answer: first.answer,
    })
    expect(await store.accept('svc', { room: 'lobby' }, { ...pub(1), id: `r-${user}` })).toEqual({
      first: true,
      answer: { id: `r-${user}` },
    })
    expect(await client.ttl(`edgegate:api:idem:svc:${pub(1).id}`)).toBeGreaterThan(590)
    expect((await store.read(sub, null)).last).toBe(first.answer.offset)
  })

  it('reads after since in order, and reports a gap once MAXLEN dropped entries after it', async () => {
    const store = createRedisPublishStore(client, { maxEntries: 2 })
    const sub = nextUser()
    const offsets: string[] = []
    for (const n of [1, 2])
      offsets.push((await store.accept('svc', { user: sub }, pub(n))).answer.offset!)
    expect(await store.read(sub, offsets[0]!)).toEqual({
      entries: [{ ...pub(2), ts: expect.any(Number), offset: offsets[1] }],
      last: offsets[1],
      gap: false,
    })
    for (const n of [3, 4])
      offsets.push((await store.accept('svc', { user: sub }, pub(n))).answer.offset!)
    const after = await store.read(sub, offsets[0]!)
    expect(after).toMatchObject({ last: offsets[3], gap: true })
    expect(after.entries.map((e) => e.data)).toEqual([{ n: 3 }, { n: 4 }])
    // The newest dropped offset: nothing after it is missing.
    expect(await store.read(sub, offsets[1]!)).toMatchObject({
      gap: false,
      entries: [{ data: { n: 3 } }, { data: { n: 4 } }],
    })
    expect(await client.ttl(`edgegate:api:stream:${sub}`)).toBeGreaterThan(86_000)
  })

  it('drops entries past the age limit on the injected clock and reports the gap', async () => {
    let now = Date.now()
    const store = createRedisPublishStore(client, { ttlSeconds: 60, now: () => now })
    const sub = nextUser()
    const a = (await store.accept('svc', { user: sub }, pub(1))).answer.offset!
    const b = (await store.accept('svc', { user: sub }, pub(2))).answer.offset!
    expect(await store.read(sub, a)).toMatchObject({ gap: false, entries: [{ offset: b }] })
    now += 120_000
    expect(await store.read(sub, a)).toEqual({ entries: [], last: b, gap: true })
    expect(await store.read(sub, b)).toEqual({ entries: [], last: b, gap: false })
  })

  it('reports a gap for offsets the stream never had, and last null for a user without a stream', async () => {
    const store = createRedisPublishStore(client)
    const sub = nextUser()
    const a = (await store.accept('svc', { user: sub }, pub(1))).answer.offset!
    const [ms, seq] = a.split('-')
    for (const since of [
      'abc',
      `${ms}-${Number(seq) + 5}`,
      '99999999999999999999-0',
      `${BigInt(ms!) + 1000n}-0`,
    ]) {
      expect(await store.read(sub, since)).toEqual({ entries: [], last: a, gap: true })
    }
    // Before the stream's first entry: what is held is replayed, with the gap.
    expect(await store.read(sub, '1-0')).toMatchObject({
      entries: [{ offset: a }],
      last: a,
      gap: true,
    })
    expect(await store.read(nextUser(), null)).toEqual({ entries: [], last: null, gap: false })
    expect(await store.read(nextUser(), a)).toEqual({ entries: [], last: null, gap: true })
  })
})
