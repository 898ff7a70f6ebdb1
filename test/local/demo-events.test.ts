/**
 * `npm start`'s lifecycle-events receiver: real signed deliveries from the
 * deliverer reach its live stream; a forged one is refused and never shown.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startDemoEvents, type DemoEvents } from '../../edge/local/demo-events.ts'
import { memoryDeliverer } from '../realtime/lifecycle/receiver.ts'
import { until } from '../realtime/waits.ts'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/** Read the server-sent events of `url` into `seen` until aborted. */
async function follow(url: string, seen: any[], signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { signal })
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
    if (done) return
    buffer += value
    let end
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      seen.push(JSON.parse(buffer.slice(0, end).replace(/^data: /, '')))
      buffer = buffer.slice(end + 2)
    }
  }
}

describe('the demo events receiver', () => {
  it('streams verified deliveries live and refuses a forged one', async () => {
    const demo: DemoEvents = await startDemoEvents({ port: 0 })
    closers.push(() => demo.close())
    const page = await fetch(demo.pageUrl)
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(await page.text()).toContain('EventSource')
    const seen: any[] = []
    const abort = new AbortController()
    closers.push(async () => abort.abort())
    void follow(demo.pageUrl + 'events', seen, abort.signal)

    const { log, deliverer } = memoryDeliverer(demo.hookUrl, demo.secret)
    closers.push(() => deliverer.close())
    log.transition('user.offline', 'bob')
    await until(() => seen.length === 1, { what: 'the event streamed' })
    expect(seen[0]).toMatchObject({ type: 'user.offline', data: { sub: 'bob' } })

    const forged = await fetch(demo.hookUrl, {
      method: 'POST',
      headers: {
        'webhook-id': 'evt_x',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      },
      body: JSON.stringify({ type: 'user.online', data: { sub: '<img src=x>' } }),
    })
    expect(forged.status).toBe(400)
    log.transition('user.online', 'alice')
    await until(() => seen.length === 2, { what: 'the next event' })
    expect(seen.map((e) => e.data.sub)).toEqual(['bob', 'alice'])
  })

  it('answers CORS on /events for the origins it is given, and no other', async () => {
    const origins = ['http://127.0.0.1:8787', 'http://localhost:8787']
    const demo = await startDemoEvents({ port: 0, allowOrigins: origins })
    closers.push(() => demo.close())
    const abort = new AbortController()
    closers.push(async () => abort.abort())
    const from = (origin: string) =>
      fetch(demo.eventsUrl, { headers: { origin }, signal: abort.signal })
    for (const origin of origins) {
      const events = await from(origin)
      expect(events.headers.get('access-control-allow-origin')).toBe(origin)
      expect(events.headers.get('vary')).toBe('origin')
    }
    const evil = await from('http://evil.example')
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()
    expect(evil.headers.get('vary')).toBe('origin')
    // The deliveries and the receiver's own page stay same-origin.
    expect((await fetch(demo.pageUrl)).headers.get('access-control-allow-origin')).toBeNull()
    // Without the option, no page elsewhere may read the stream.
    const plain = await startDemoEvents({ port: 0 })
    closers.push(() => plain.close())
    const closed = await fetch(plain.eventsUrl, {
      headers: { origin: origins[0]! },
      signal: abort.signal,
    })
    expect(closed.headers.get('access-control-allow-origin')).toBeNull()
  })

  it('refuses allowOrigins that are not exactly origins', async () => {
    for (const bad of ['http://127.0.0.1:8787/', 'http://127.0.0.1:8787/page', '*', 'javascript:x'])
      await expect(startDemoEvents({ port: 0, allowOrigins: [bad] })).rejects.toThrow(TypeError)
  })
})
