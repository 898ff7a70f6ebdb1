/**
 * `rt:sync`'s bounds (docs/protocol.md §9, v1.2), on one node (memory) and
 * on a node clustered over a real Redis: `since: "0"` replays what the
 * stream holds; a `since` past the end or not of this stream is `gap: true`
 * with nothing delivered and no Redis error; and a user's syncs share a
 * replay budget, past which `rt:sync` is `rate_limited` with `retryAfterMs`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { LogLevel } from '../../../realtime/log.ts'
import { cleanup as stopRedis, startRedis } from '../../cluster/support.ts'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { request, until } from '../waits.ts'
import { post, serviceToken } from '../api/service.ts'

afterEach(async () => {
  await cleanup()
  await stopRedis()
})

let users = 0

describe.each(['memory', 'redis'] as const)('rt:sync bounds (%s store)', (store) => {
  async function setUp(options: Parameters<typeof startServer>[1] = {}) {
    const issuer = await startIssuer()
    const logs: [LogLevel, string][] = []
    const redisUrl = store === 'redis' ? (await startRedis()).url : undefined
    const { server, url } = await startServer(issuer, {
      ...(redisUrl && { redisUrl }),
      logger: (level, msg) => logs.push([level, msg]),
      ...options,
    })
    await until(() => server.notReadyReasons().length === 0, { timeoutMs: 30_000 })
    const token = await serviceToken(issuer)
    // A user of its own per test: the shared Redis keeps streams by sub.
    const user = async (sub = `u-${process.pid}-${++users}`) => {
      const socket = await connect(url, {
        auth: { token: await issuer.mint({ sub, sid: `s-${sub}` }) },
      })
      const publish = async (data: unknown) => {
        const reply = await post(
          url,
          '/api/v1/publish',
          { to: { user: sub }, event: 'inbox.new', data },
          token,
        )
        expect(reply.status).toBe(202)
        return reply.body as { id: string; offset: string }
      }
      const sync = async (since: string | null) => {
        const before: unknown[] = []
        const listener = (_: string, payload: unknown) => before.push(payload)
        socket.onAny(listener)
        const ack = await request(socket, 'rt:sync', envelope({ since }))
        socket.offAny(listener)
        return { ack, before }
      }
      return { socket, publish, sync }
    }
    return { server, logs, user }
  }

  it('since "0" replays every retained entry with gap false; on an empty stream, nothing and last null', async () => {
    const { user } = await setUp()
    const alice = await user()
    expect(await alice.sync('0')).toEqual({
      ack: { ok: true, data: { delivered: 0, last: null, gap: false } },
      before: [],
    })
    const published = [await alice.publish(1), await alice.publish(2)]
    const { ack, before } = await alice.sync('0')
    expect(ack).toEqual({
      ok: true,
      data: { delivered: 2, last: published[1]!.offset, gap: false },
    })
    expect(before).toEqual(
      published.map((p, i) => expect.objectContaining({ id: p.id, data: i + 1 })),
    )
  })

  it('since "0" reports gap true once retention dropped the stream’s first entries', async () => {
    const { user } = await setUp({ serverApi: { userStream: { maxEntries: 2 } } })
    const alice = await user()
    for (const n of [1, 2, 3]) await alice.publish(n)
    const { ack, before } = await alice.sync('0')
    expect(ack).toMatchObject({ ok: true, data: { delivered: 2, gap: true } })
    expect(before).toEqual([
      expect.objectContaining({ data: 2 }),
      expect.objectContaining({ data: 3 }),
    ])
  })

  it('a since past the end, or not of this stream, is gap true with nothing delivered and no error', async () => {
    const { user, logs } = await setUp()
    const alice = await user()
    const { offset } = await alice.publish(1)
    const past =
      store === 'redis'
        ? ['18446744073709551615-18446744073709551615', `${Number(offset.split('-')[0]) + 1}-0`]
        : [`${offset.split('-')[0]}-9999999999999999`, `${offset.split('-')[0]}-2`]
    for (const since of [...past, 'zzzz-1', '0-0']) {
      expect(await alice.sync(since)).toEqual({
        ack: { ok: true, data: { delivered: 0, last: offset, gap: true } },
        before: [],
      })
    }
    expect(logs.filter(([level]) => level === 'error' || level === 'warn')).toEqual([])
  })

  it('shares a replay budget per user: past it rt:sync is rate_limited with retryAfterMs, and other users are unaffected', async () => {
    const { user, server } = await setUp({
      serverApi: { syncReplay: { maxBytes: 20_000, windowMs: 60_000 } },
    })
    const alice = await user()
    for (let n = 0; n < 4; n++) await alice.publish('x'.repeat(8_000))
    // The first sync is within the budget, and spends more than all of it.
    expect((await alice.sync('0')).ack).toMatchObject({ ok: true, data: { delivered: 4 } })
    const refused = await alice.sync('0')
    expect(refused).toEqual({
      ack: {
        ok: false,
        error: {
          code: 'rate_limited',
          message: expect.any(String),
          retryAfterMs: expect.any(Number),
        },
      },
      before: [],
    })
    expect(refused.ack.error.retryAfterMs).toBeGreaterThan(0)
    // Another socket of the same user shares the budget; another user has its own.
    const again = await user(undefined)
    expect((await again.sync(null)).ack).toMatchObject({ ok: true })
    const text = await server.metrics.registry.metrics()
    expect(text).toMatch(/realtime_sync_replayed_bytes_total \d{5,}/)
    expect(text).toContain('realtime_sync_refused_total 1')
  })
})

describe('rt:sync replay budget on a cluster', () => {
  it("is one budget per user on every node: once a sync on one node spent it, the user's sync on another is refused", async () => {
    const issuer = await startIssuer()
    const { url: redisUrl } = await startRedis()
    const options = { redisUrl, serverApi: { syncReplay: { maxBytes: 20_000, windowMs: 60_000 } } }
    const one = await startServer(issuer, options)
    const two = await startServer(issuer, options)
    for (const { server } of [one, two])
      await until(() => server.notReadyReasons().length === 0, { timeoutMs: 30_000 })
    const token = await serviceToken(issuer)
    const sub = `u-${process.pid}-cluster-${++users}`
    for (let n = 0; n < 4; n++) {
      const reply = await post(
        one.url,
        '/api/v1/publish',
        { to: { user: sub }, event: 'inbox.new', data: 'x'.repeat(8_000) },
        token,
      )
      expect(reply.status).toBe(202)
    }
    const socketOn = async (url: string, who: string) =>
      connect(url, { auth: { token: await issuer.mint({ sub: who, sid: `s-${who}-${url}` }) } })
    const first = await socketOn(one.url, sub)
    expect(await request(first, 'rt:sync', envelope({ since: '0' }))).toMatchObject({
      ok: true,
      data: { delivered: 4 },
    })
    const second = await socketOn(two.url, sub)
    expect(await request(second, 'rt:sync', envelope({ since: '0' }))).toMatchObject({
      ok: false,
      error: { code: 'rate_limited', retryAfterMs: expect.any(Number) },
    })
    // Another user on that node has a budget of their own.
    const other = await socketOn(two.url, `${sub}-other`)
    expect(await request(other, 'rt:sync', envelope({ since: '0' }))).toMatchObject({ ok: true })
    expect(await two.server.metrics.registry.metrics()).toContain('realtime_sync_refused_total 1')
  })
})
