import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, next, refusal, startIssuer, startServer } from './support.ts'

afterEach(cleanup)

describe('realtime service', () => {
  it('lets two verified users chat in a joined room, with the sender identity from the token', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const alice = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-a', sid: 's-a', name: 'alice' }) },
    })
    const bob = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b', name: 'bob' }) },
      transports: ['polling'],
    })
    expect(await alice.emitWithAck('rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(await bob.emitWithAck('rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    const received = next(bob, 'chat:message')
    const ack = await alice.emitWithAck(
      'chat:send',
      envelope({ room: 'lobby', text: 'hi', from: undefined }),
    )
    expect(ack).toMatchObject({ ok: true, data: { id: expect.any(String) } })
    expect(await received).toMatchObject({
      room: 'lobby',
      text: 'hi',
      from: { sub: 'u-a', name: 'alice' },
    })
  })

  it('refuses a handshake without a token with connect_error token_missing', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    expect(await refusal(url)).toEqual({
      message: 'token_missing',
      data: { code: 'token_missing', retryable: false, refresh: false },
    })
  })
})
