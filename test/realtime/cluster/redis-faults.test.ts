import { afterEach, describe, expect, it } from 'vitest'
import { cleanup as stopRedis, startRedis } from '../../cluster/support.ts'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { record, request, settle, until } from '../waits.ts'

afterEach(async () => {
  await cleanup()
  await stopRedis()
})

/** Generous: the machine is shared and loaded. */
const WAIT_MS = 30_000

async function node(
  issuer: Awaited<ReturnType<typeof startIssuer>>,
  redisUrl: string,
  options: Parameters<typeof startServer>[1] = {},
) {
  const started = await startServer(issuer, {
    redisUrl,
    messageRate: { perSecond: 1000, burst: 1000 },
    ...options,
  })
  await until(() => started.server.notReadyReasons().length === 0, {
    timeoutMs: WAIT_MS,
    what: 'node ready',
  })
  return started
}

async function member(url: string, issuer: Awaited<ReturnType<typeof startIssuer>>, sub: string) {
  const socket = await connect(url, {
    auth: { token: await issuer.mint({ sub, sid: `s-${sub}` }) },
  })
  expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
  return socket
}

const readyz = async (url: string) => (await fetch(`${url}/readyz`)).status

describe('redis faults', () => {
  it('notices a hung Redis in readyz and keeps same-node delivery going', async () => {
    const redis = await startRedis()
    const issuer = await startIssuer()
    const { server, url } = await node(issuer, redis.url)
    const a = await member(url, issuer, 'u-a')
    const b = await member(url, issuer, 'u-b')
    const seen = record<{ text: string }>(b, 'chat:message')
    redis.pause()
    try {
      await until(() => server.notReadyReasons().some((r) => r.startsWith('redis')), {
        timeoutMs: WAIT_MS,
        what: 'redis reported unavailable',
      })
      expect(await readyz(url)).toBe(503)
      for (const text of ['while hung 1', 'while hung 2']) {
        expect(await request(a, 'chat:send', envelope({ room: 'lobby', text }))).toMatchObject({
          ok: true,
        })
      }
      await until(() => seen.length === 2, {
        timeoutMs: WAIT_MS,
        what: 'same-node delivery while redis hangs',
      })
      expect(seen.map((m) => m.text)).toEqual(['while hung 1', 'while hung 2'])
    } finally {
      redis.resume()
    }
    await until(() => server.notReadyReasons().length === 0, {
      timeoutMs: WAIT_MS,
      what: 'ready again',
    })
    expect(await readyz(url)).toBe(200)
  }, 120_000)

  it('loses no cross-node message when Redis is down for 3 s', async () => {
    const redis = await startRedis()
    const issuer = await startIssuer()
    const one = await node(issuer, redis.url)
    const two = await node(issuer, redis.url)
    const a = await member(one.url, issuer, 'u-a')
    const b = await member(two.url, issuer, 'u-b')
    const seen = record<{ text: string }>(b, 'chat:message')
    // The path between the nodes works before the fault.
    await request(a, 'chat:send', envelope({ room: 'lobby', text: 'warm-up' }))
    await until(() => seen.length === 1, { timeoutMs: WAIT_MS, what: 'cross-node warm-up' })

    const sent: string[] = []
    let sending = true
    const sender = (async () => {
      for (let i = 0; sending; i++) {
        const text = `m-${i}`
        expect(await request(a, 'chat:send', envelope({ room: 'lobby', text }))).toMatchObject({
          ok: true,
        })
        sent.push(text)
        await settle(10)
      }
    })()
    try {
      await until(() => sent.length >= 20, { timeoutMs: WAIT_MS, what: 'sending before the fault' })
      await redis.stop()
      const sentBefore = sent.length
      await settle(3000) // the fault: Redis away for 3 s
      await redis.restart()
      expect(sent.length).toBeGreaterThan(sentBefore) // the sender kept going meanwhile
      await until(() => one.server.notReadyReasons().length === 0, {
        timeoutMs: WAIT_MS,
        what: 'redis back',
      })
      const after = sent.length
      await until(() => sent.length >= after + 20, {
        timeoutMs: WAIT_MS,
        what: 'sending after the fault',
      })
    } finally {
      sending = false
      await sender
    }
    const expected = ['warm-up', ...sent]
    try {
      await until(() => seen.length >= expected.length, {
        timeoutMs: WAIT_MS,
        what: 'every message across nodes',
      })
    } finally {
      const got = new Set(seen.map((m) => m.text))
      console.info(
        `redis down 3 s: ${expected.filter((t) => !got.has(t)).length} of ${expected.length} cross-node messages lost`,
      )
    }
    expect(seen.map((m) => m.text)).toEqual(expected)
    expect(
      await one.server.metrics.registry.getSingleMetricAsString(
        'realtime_cluster_publishes_dropped_total',
      ),
    ).toContain('realtime_cluster_publishes_dropped_total 0')
  }, 180_000)

  it('still gives clients stream offsets for connection-state recovery while Redis answers', async () => {
    const redis = await startRedis()
    const issuer = await startIssuer()
    const recovery = { connectionStateRecovery: { maxDisconnectionDurationMs: 60_000 } }
    const one = await node(issuer, redis.url, recovery)
    const two = await node(issuer, redis.url, recovery)
    const a = await member(one.url, issuer, 'u-a')
    const local = await member(one.url, issuer, 'u-l')
    const remote = await member(two.url, issuer, 'u-b')
    const heard = [local, remote].map((s) => record(s, 'chat:message'))
    await request(a, 'chat:send', envelope({ room: 'lobby', text: 'with an offset' }))
    await until(() => heard.every((h) => h.length === 1), { timeoutMs: WAIT_MS, what: 'delivered' })
    for (const socket of [local, remote]) {
      expect((socket as unknown as { _lastOffset?: string })._lastOffset).toMatch(/^\d+-\d+$/)
    }
  }, 120_000)
})
