/**
 * A DPoP proof is spent cluster-wide (docs/protocol.md §15): two realtime
 * nodes behind one public URL share a real Redis; a proof accepted on one is
 * a replay on the other, at the handshake and in band.
 */
import { createClient } from 'redis'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup as stopRedis, startRedis } from '../../cluster/support.ts'
import { DPOP_JTI_REDIS_PREFIX } from '../../../realtime/constants.ts'
import { cleanup, connect, envelope, refusal, startIssuer, startServer } from '../support.ts'
import { request, until } from '../waits.ts'
import { dpopKey, proof } from '../../support/dpop.ts'

afterEach(async () => {
  await cleanup()
  await stopRedis()
})

const WAIT_MS = 30_000
/** The load balancer's URL both nodes sit behind: every proof names it. */
const PUBLIC_URL = 'https://rt.cluster.test'
const HTU = `${PUBLIC_URL}/socket.io/`

async function node(issuer: Awaited<ReturnType<typeof startIssuer>>, redisUrl: string) {
  const started = await startServer(issuer, { redisUrl, publicUrl: PUBLIC_URL })
  await until(() => started.server.notReadyReasons().length === 0, {
    timeoutMs: WAIT_MS,
    what: 'node ready',
  })
  return started
}

describe('the DPoP replay cache of a cluster', () => {
  it('a handshake proof accepted on one node is refused dpop_invalid on the other, and its jti is in Redis for 5 minutes', async () => {
    const redis = await startRedis()
    const issuer = await startIssuer()
    const [one, two] = [await node(issuer, redis.url), await node(issuer, redis.url)]
    const key = await dpopKey()
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const dpop = await proof(key, HTU, 'GET', { token })
    await connect(one.url, { auth: { token, dpop } })
    expect(await refusal(two.url, { auth: { token, dpop } })).toMatchObject({
      message: 'dpop_invalid',
    })
    // A fresh proof for the same token opens on the second node.
    await connect(two.url, { auth: { token, dpop: await proof(key, HTU, 'GET', { token }) } })

    const jti = JSON.parse(Buffer.from(dpop.split('.')[1]!, 'base64url').toString()).jti
    const client = createClient({ url: redis.url })
    await client.connect()
    try {
      const ttl = await client.ttl(`${DPOP_JTI_REDIS_PREFIX}${jti}`)
      expect(ttl).toBeGreaterThan(200)
      expect(ttl).toBeLessThanOrEqual(300)
    } finally {
      await client.quit()
    }
  })

  it('an in-band proof spent on one node is refused on the other', async () => {
    const redis = await startRedis()
    const issuer = await startIssuer()
    const [one, two] = [await node(issuer, redis.url), await node(issuer, redis.url)]
    const key = await dpopKey()
    const open = async (url: string) => {
      const token = await issuer.mint({ cnf: { jkt: key.jkt } })
      return connect(url, { auth: { token, dpop: await proof(key, HTU, 'GET', { token }) } })
    }
    const [a, b] = [await open(one.url), await open(two.url)]
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const dpop = await proof(key, HTU, 'POST', { token })
    expect(await request(a, 'rt:auth', envelope(null, { token, dpop }))).toMatchObject({ ok: true })
    expect(await request(b, 'rt:auth', envelope(null, { token, dpop }))).toEqual({
      ok: false,
      error: { code: 'dpop_invalid', message: expect.any(String) },
    })
  })

  it('while Redis is away a bound handshake is refused unavailable (retryable), never admitted on memory alone', async () => {
    const redis = await startRedis()
    if (!redis.owned) throw new Error('this test stops Redis: install redis-server')
    const issuer = await startIssuer()
    const one = await node(issuer, redis.url)
    const key = await dpopKey()
    await redis.stop()
    await until(() => one.server.notReadyReasons().length > 0, {
      timeoutMs: WAIT_MS,
      what: 'Redis seen away',
    })
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const away = await refusal(one.url, {
      auth: { token, dpop: await proof(key, HTU, 'GET', { token }) },
    })
    expect(away.data).toMatchObject({ code: 'unavailable', retryable: true })
    // A bearer token does not need Redis to open.
    await connect(one.url, { auth: { token: await issuer.mint() } })
  })
})
