import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { disconnection, record, request, timeline } from '../waits.ts'
import { post, serviceToken } from './service.ts'

afterEach(cleanup)

async function setUp() {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer)
  const tokenFor = (sub: string, sid: string) => issuer.mint({ sub, sid })
  return { issuer, server, url, tokenFor, token: await serviceToken(issuer) }
}

const closed = (retryable: boolean) => [
  ['rt:error', { code: 'disconnected', message: expect.any(String), retryable }],
  ['disconnect', 'io server disconnect'],
]

describe('POST /api/v1/disconnect', () => {
  it('closes every socket of a user with rt:error disconnected first, leaves others, and lets the user connect again', async () => {
    const { server, url, tokenFor, token } = await setUp()
    const aliceToken = await tokenFor('alice', 's-a1')
    const [a1, a2, b] = await Promise.all([
      connect(url, { auth: { token: aliceToken } }),
      connect(url, { auth: { token: await tokenFor('alice', 's-a2') } }),
      connect(url, { auth: { token: await tokenFor('bob', 's-b') } }),
    ])
    const [t1, t2] = [timeline(a1), timeline(a2)]
    const bobErrors = record(b, 'rt:error')
    const gone = [disconnection(a1), disconnection(a2)]

    const reply = await post(url, '/api/v1/disconnect', { user: 'alice', retryable: true }, token)
    expect(reply).toMatchObject({ status: 202, body: { id: expect.any(String) } })
    await Promise.all(gone)
    expect(t1).toEqual(closed(true))
    expect(t2).toEqual(closed(true))
    expect(await request(b, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
    expect(bobErrors).toEqual([])
    // Not a revocation: the same token connects again.
    const back = await connect(url, { auth: { token: aliceToken } })
    expect(await request(back, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
    expect(
      await server.metrics.registry.getSingleMetricAsString('realtime_api_disconnects_total'),
    ).toMatch(/outcome="ok"} 1$/m)
  })

  it('closes only the named session, with retryable false by default', async () => {
    const { url, tokenFor, token } = await setUp()
    const [a1, a2] = await Promise.all([
      connect(url, { auth: { token: await tokenFor('alice', 's-a1') } }),
      connect(url, { auth: { token: await tokenFor('alice', 's-a2') } }),
    ])
    const t1 = timeline(a1)
    const gone = disconnection(a1)
    expect((await post(url, '/api/v1/disconnect', { session: 's-a1' }, token)).status).toBe(202)
    await gone
    expect(t1).toEqual(closed(false))
    expect(await request(a2, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
  })

  it.each<[string, unknown]>([
    ['both targets', { user: 'alice', session: 's-a1' }],
    ['no target', { retryable: true }],
    ['a non-boolean retryable', { user: 'alice', retryable: 'yes' }],
    ['a room', { room: 'lobby' }],
  ])('answers %s with 400 envelope_invalid and closes nothing', async (_what, body) => {
    const { url, tokenFor, token } = await setUp()
    const socket = await connect(url, { auth: { token: await tokenFor('alice', 's-a1') } })
    expect(await post(url, '/api/v1/disconnect', body, token)).toMatchObject({
      status: 400,
      body: { error: 'envelope_invalid' },
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
  })
})
