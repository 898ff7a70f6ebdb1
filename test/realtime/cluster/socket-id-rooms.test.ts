/**
 * Socket-id-shaped room names are never joinable (docs/protocol.md §5,
 * v1.2): two nodes sharing a real Redis; a client whose rooms claim is `*`
 * asks on one node for the private room of a socket on the other, which a
 * node-local check cannot see.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup as stopRedis, startRedis } from '../../cluster/support.ts'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { request, until } from '../waits.ts'

afterEach(async () => {
  await cleanup()
  await stopRedis()
})

const WAIT_MS = 30_000

async function node(issuer: Awaited<ReturnType<typeof startIssuer>>, redisUrl: string) {
  const started = await startServer(issuer, { redisUrl })
  await until(() => started.server.notReadyReasons().length === 0, {
    timeoutMs: WAIT_MS,
    what: 'node ready',
  })
  return started
}

describe('socket-id-shaped room names in a cluster', () => {
  it("refuses a room named by another node's socket id, and any 20-character id-shaped name, whatever the patterns", async () => {
    const redis = await startRedis()
    const issuer = await startIssuer()
    const [one, two] = [await node(issuer, redis.url), await node(issuer, redis.url)]
    const victim = await connect(one.url, {
      auth: { token: await issuer.mint({ sub: 'alice', sid: 's-a' }) },
    })
    const mallory = await connect(two.url, {
      auth: { token: await issuer.mint({ sub: 'mallory', sid: 's-m', rooms: ['*'] }) },
    })
    const forbidden = { ok: false, error: { code: 'forbidden', message: expect.any(String) } }
    expect(await request(mallory, 'rt:join', envelope({ room: victim.id }))).toEqual(forbidden)
    for (const room of ['AAAAAAAAAAAAAAAAAAAA', 'abc-DEF_ghi-JKL_mno-', mallory.id])
      expect(await request(mallory, 'rt:join', envelope({ room }))).toEqual(forbidden)
    // One character more or less is an ordinary name under `*`.
    for (const room of ['AAAAAAAAAAAAAAAAAAA', 'AAAAAAAAAAAAAAAAAAAAA', 'lobby:AAAAAAAAAAAAAA'])
      expect(await request(mallory, 'rt:join', envelope({ room }))).toEqual({
        ok: true,
        data: { room },
      })
  })
})
