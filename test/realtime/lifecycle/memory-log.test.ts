/**
 * A single node's lifecycle log in bounded memory (docs/protocol.md §16),
 * on a driven clock: order, paging, retention by age and count with `gap`,
 * offsets of another boot, and revocations recorded once.
 */
import { describe, expect, it } from 'vitest'
import { createMemoryLog } from '../../../realtime/lifecycle/memory-log.ts'

const subs = (events: { data: unknown }[]) => events.map((e) => (e.data as { sub: string }).sub)

describe('the memory event log', () => {
  it('pages in order with next, and next is after itself on an empty page', async () => {
    const log = createMemoryLog()
    for (const sub of ['a', 'b', 'c']) log.transition('user.online', sub)
    const first = await log.read(undefined, 2)
    expect(first).toMatchObject({ gap: false, next: first.events[1]!.offset })
    expect(subs(first.events)).toEqual(['a', 'b'])
    const rest = await log.read(first.next, 10)
    expect(subs(rest.events)).toEqual(['c'])
    expect(await log.read(rest.next, 10)).toEqual({ events: [], next: rest.next, gap: false })
    expect(await log.counts()).toEqual({ 'user.online': 3 })
  })

  it('drops events older than the retention and tells a reader behind it gap', async () => {
    let clock = 1_000_000
    const log = createMemoryLog({ now: () => clock, retentionSeconds: 60 })
    log.transition('user.online', 'old')
    const behind = (await log.read(undefined, 10)).next
    log.transition('user.online', 'old2')
    clock += 61_000
    log.transition('user.offline', 'new')
    const page = await log.read(behind, 10)
    expect(page.gap).toBe(true)
    expect(subs(page.events)).toEqual(['new'])
    expect(log.size()).toBe(1)
  })

  it('holds at most maxEntries, the newest', async () => {
    const log = createMemoryLog({ maxEntries: 3 })
    const first = log.tail()
    for (let i = 0; i < 10; i++) log.transition('user.online', `u${i}`)
    expect(log.size()).toBe(3)
    const page = await log.read(first, 10)
    expect(page.gap).toBe(true)
    expect(subs(page.events)).toEqual(['u7', 'u8', 'u9'])
  })

  it('answers gap for an offset of another boot or past its end, and refuses garbage', async () => {
    const a = createMemoryLog()
    const b = createMemoryLog()
    a.transition('user.online', 'x')
    b.transition('user.online', 'y')
    const foreign = (await a.read(undefined, 1)).next
    expect(await b.read(foreign, 10)).toMatchObject({ gap: true, events: [{ data: { sub: 'y' } }] })
    const past = b.tail().replace(/\.\d+$/, '.99')
    expect((await b.read(past, 10)).gap).toBe(true)
    for (const bad of ['abc', '1-0', '../x', '']) {
      await expect(b.read(bad, 10)).rejects.toMatchObject({ code: 'envelope_invalid' })
    }
  })

  it('records a revocation once however often it is applied', async () => {
    const log = createMemoryLog()
    const event = { kind: 'user' as const, id: 'u1', at: 5, until: 9_999_999_999 }
    await log.revoked(event)
    await log.revoked(event)
    await log.revoked({ ...event, at: 6 })
    const { events } = await log.read(undefined, 10)
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['session.revoked', { kind: 'user', id: 'u1' }],
      ['session.revoked', { kind: 'user', id: 'u1' }],
    ])
  })
})
