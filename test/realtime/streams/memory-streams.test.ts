import { describe, expect, it } from 'vitest'
import { MemoryPublishStore } from '../../../realtime/streams/memory-store.ts'
import { MemoryUserStreams } from '../../../realtime/streams/memory-streams.ts'

const pub = (n: number, ts: number) => ({
  id: `m-${n}`,
  from: 'svc',
  ts,
  event: 'note',
  data: { n },
})

describe('MemoryUserStreams', () => {
  it('keeps the newest maxEntries and reports a gap only for a since older than what was dropped', () => {
    const streams = new MemoryUserStreams({ maxEntries: 3, now: () => 0 })
    const offsets = [1, 2, 3, 4, 5].map((n) => streams.append('alice', pub(n, 0), 10))
    expect(streams.read('alice', offsets[0]!)).toMatchObject({ gap: true, last: offsets[4] })
    expect(streams.read('alice', offsets[0]!).entries.map((e) => e.id)).toEqual([
      'm-3',
      'm-4',
      'm-5',
    ])
    // offsets[1] was the newest dropped: nothing after it is missing.
    expect(streams.read('alice', offsets[1]!)).toMatchObject({
      gap: false,
      entries: [{ id: 'm-3' }, { id: 'm-4' }, { id: 'm-5' }],
    })
    expect(streams.read('alice', offsets[3]!)).toEqual({
      gap: false,
      last: offsets[4],
      entries: [{ ...pub(5, 0), offset: offsets[4] }],
    })
    expect(streams.entriesHeld).toBe(3)
  })

  it('drops entries past the age limit on the injected clock, and reports the gap', () => {
    let now = 1_000_000
    const streams = new MemoryUserStreams({ ttlSeconds: 60, now: () => now })
    const first = streams.append('alice', pub(1, now), 10)
    now += 30_000
    const second = streams.append('alice', pub(2, now), 10)
    expect(streams.read('alice', first)).toMatchObject({ gap: false, entries: [{ id: 'm-2' }] })
    now += 40_000
    expect(streams.read('alice', null)).toEqual({ entries: [], last: second, gap: false })
    const missing = new MemoryUserStreams({ ttlSeconds: 60, now: () => now })
    const a = missing.append('bob', pub(1, now), 10)
    missing.append('bob', pub(2, now), 10)
    now += 61_000
    expect(missing.read('bob', a)).toEqual({ entries: [], last: expect.any(String), gap: true })
    expect(missing.entriesHeld).toBe(0)
  })

  it('holds at most maxStreams users, evicting the least recently appended, whose old offsets then report a gap', () => {
    const streams = new MemoryUserStreams({ maxStreams: 2, now: () => 0 })
    const a = streams.append('a', pub(1, 0), 10)
    streams.append('b', pub(1, 0), 10)
    streams.append('a', pub(2, 0), 10)
    streams.append('c', pub(1, 0), 10)
    expect(streams.streamsHeld).toBe(2)
    expect(streams.read('b', null).last).toBeNull()
    expect(streams.read('a', a)).toMatchObject({ gap: false, entries: [{ id: 'm-2' }] })
    const b2 = streams.append('b', pub(2, 0), 10)
    expect(streams.read('b', a)).toMatchObject({ gap: true })
    expect(streams.read('b', null).last).toBe(b2)
    // a (two entries) went for b: c and b are held.
    expect(streams.streamsHeld).toBe(2)
    expect(streams.entriesHeld).toBe(2)
  })

  it('holds at most maxBytes of data across users', () => {
    const streams = new MemoryUserStreams({ maxBytes: 100, now: () => 0 })
    for (const user of ['a', 'b', 'c']) streams.append(user, pub(1, 0), 40)
    expect(streams.streamsHeld).toBe(2)
    expect(streams.read('a', null).last).toBeNull()
  })
})

describe('MemoryPublishStore', () => {
  it('answers a repeated (client, id) as the first call did until the window closes, and bounds the ids it holds', async () => {
    let now = 0
    const store = new MemoryPublishStore({
      idempotencyTtlSeconds: 600,
      maxIdempotencyKeys: 2,
      now: () => now,
    })
    const first = await store.accept('svc', { user: 'alice' }, pub(1, now))
    expect(first).toEqual({ first: true, answer: { id: 'm-1', offset: expect.any(String) } })
    expect(await store.accept('svc', { user: 'bob' }, pub(1, now))).toEqual({
      first: false,
      answer: first.answer,
    })
    expect((await store.accept('other', { room: 'lobby' }, pub(1, now))).answer).toEqual({
      id: 'm-1',
    })
    now += 600_000
    expect((await store.accept('svc', { user: 'alice' }, pub(1, now))).first).toBe(true)
    await store.accept('svc', { user: 'alice' }, pub(2, now))
    await store.accept('svc', { user: 'alice' }, pub(3, now))
    expect(store.keysHeld).toBe(2)
  })
})
