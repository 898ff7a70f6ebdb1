import { afterEach, describe, expect, it, vi } from 'vitest'
import { DeadlineWheel } from '../../../realtime/session/deadline-wheel.ts'

/** A wheel on a clock the test sets, recording what fell due. */
function wheel(resolutionMs = 100, start = 10_000) {
  let now = start
  const due: string[] = []
  const w = new DeadlineWheel<string>({
    resolutionMs,
    now: () => now,
    onDue: (item) => due.push(item),
  })
  const at = (ms: number) => {
    now = ms
    w.tick()
  }
  return { w, due, at }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('DeadlineWheel', () => {
  it('never fires an item before its deadline, and fires it within one resolution after', () => {
    const { w, due, at } = wheel()
    w.schedule('a', 10_250)
    at(10_249)
    expect(due).toEqual([])
    at(10_299)
    expect(due).toEqual([])
    at(10_300)
    expect(due).toEqual(['a'])
    w.close()
  })

  it('fires a deadline on a bucket boundary exactly at that time', () => {
    const { w, due, at } = wheel()
    w.schedule('a', 10_500)
    at(10_499)
    expect(due).toEqual([])
    at(10_500)
    expect(due).toEqual(['a'])
    w.close()
  })

  it('fires each item once, however often it ticks', () => {
    const { w, due, at } = wheel()
    w.schedule('a', 10_100)
    at(10_200)
    at(10_300)
    at(20_000)
    expect(due).toEqual(['a'])
    expect(w.size).toBe(0)
  })

  it('fires items in deadline order across a large clock jump', () => {
    const { w, due, at } = wheel()
    w.schedule('late', 10_900)
    w.schedule('early', 10_300)
    w.schedule('middle', 10_500)
    w.schedule('after the jump', 60_000)
    at(11_000)
    expect(due).toEqual(['early', 'middle', 'late'])
    expect(w.size).toBe(1)
    w.close()
  })

  it('replaces an earlier schedule of the same item, later or sooner', () => {
    const { w, due, at } = wheel()
    w.schedule('later', 10_200)
    w.schedule('later', 10_800)
    w.schedule('sooner', 10_900)
    w.schedule('sooner', 10_300)
    expect(w.size).toBe(2)
    at(10_300)
    expect(due).toEqual(['sooner'])
    at(10_700)
    expect(due).toEqual(['sooner'])
    at(10_800)
    expect(due).toEqual(['sooner', 'later'])
  })

  it('forgets a cancelled item', () => {
    const { w, due, at } = wheel()
    w.schedule('a', 10_200)
    w.schedule('b', 10_200)
    w.cancel('a')
    w.cancel('never scheduled')
    expect(w.size).toBe(1)
    at(10_300)
    expect(due).toEqual(['b'])
  })

  it('fires a deadline already past on the next tick, not during schedule', () => {
    const { w, due, at } = wheel()
    w.schedule('overdue', 5_000)
    expect(due).toEqual([])
    at(10_000)
    expect(due).toEqual([])
    at(10_100)
    expect(due).toEqual(['overdue'])
  })

  it('lets onDue schedule the item again', () => {
    let now = 0
    const due: number[] = []
    const w = new DeadlineWheel<string>({
      resolutionMs: 100,
      now: () => now,
      onDue: () => {
        due.push(now)
        if (due.length < 3) w.schedule('again', now + 1000)
      },
    })
    w.schedule('again', 1000)
    for (now = 0; now <= 5000; now += 100) w.tick()
    expect(due).toEqual([1000, 2000, 3000])
    expect(w.size).toBe(0)
  })

  it('does nothing when the clock steps backwards', () => {
    const { w, due, at } = wheel()
    w.schedule('a', 10_500)
    at(9_000)
    expect(due).toEqual([])
    at(10_500)
    expect(due).toEqual(['a'])
  })

  it('drives itself with one interval while it holds items, and none once empty or closed', () => {
    vi.useFakeTimers({ now: 10_000 })
    const due: string[] = []
    const w = new DeadlineWheel<string>({ resolutionMs: 250, onDue: (item) => due.push(item) })
    expect(vi.getTimerCount()).toBe(0)
    w.schedule('a', 10_500)
    w.schedule('b', 11_000)
    expect(vi.getTimerCount()).toBe(1)
    vi.advanceTimersByTime(500)
    expect(due).toEqual(['a'])
    vi.advanceTimersByTime(500)
    expect(due).toEqual(['a', 'b'])
    expect(vi.getTimerCount()).toBe(0)

    w.schedule('c', 20_000)
    expect(vi.getTimerCount()).toBe(1)
    w.close()
    expect(vi.getTimerCount()).toBe(0)
    expect(w.size).toBe(0)
    vi.advanceTimersByTime(20_000)
    expect(due).toEqual(['a', 'b'])
  })

  it('stops its interval on the tick after the last item is cancelled', () => {
    vi.useFakeTimers({ now: 0 })
    const w = new DeadlineWheel<string>({ resolutionMs: 250, onDue: () => undefined })
    w.schedule('a', 60_000)
    w.cancel('a')
    vi.advanceTimersByTime(250)
    expect(vi.getTimerCount()).toBe(0)
  })
})
