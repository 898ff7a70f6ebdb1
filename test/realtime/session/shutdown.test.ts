import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, refusal, startIssuer, startServer } from '../support.ts'
import { disconnection, leakProbe, request, timeline, until } from '../waits.ts'

afterEach(cleanup)

describe('graceful shutdown', () => {
  it('tells every client, over either transport, rt:error unavailable, then disconnects them, and resolves', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer)
    const clients = await Promise.all(
      (['websocket', 'polling', 'websocket'] as const).map(async (transport, n) =>
        connect(url, {
          auth: { token: await issuer.mint({ sub: `u-${n}`, sid: `s-${n}` }) },
          transports: [transport],
        }),
      ),
    )
    const timelines = clients.map(timeline)
    const gone = clients.map((c) => disconnection(c))

    await server.close({ timeoutMs: 2000 })

    expect(await Promise.all(gone)).toEqual([
      'io server disconnect',
      'io server disconnect',
      'io server disconnect',
    ])
    for (const events of timelines) {
      expect(events).toEqual([
        ['rt:error', { code: 'unavailable', message: expect.any(String) }],
        ['disconnect', 'io server disconnect'],
      ])
    }
    expect(server.io.engine.clientsCount).toBe(0)
    expect(server.httpServer.listening).toBe(false)
    expect(server.notReadyReasons()).toEqual(['draining'])
  })

  it('no longer accepts connections once closed', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer)
    await server.close({ timeoutMs: 2000 })
    const { message } = await refusal(url, { auth: { token: await issuer.mint() } })
    expect(message).toMatch(/error/)
  })

  it('resolves when closed twice', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer)
    await connect(url, { auth: { token: await issuer.mint() } })
    await server.close({ timeoutMs: 2000 })
    await expect(server.close({ timeoutMs: 2000 })).resolves.toBeUndefined()
  })
})

describe('clean-up', () => {
  it('leaves no engine client behind once clients close', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer)
    const sockets = await Promise.all(
      ['websocket', 'polling'].map(async (transport) =>
        connect(url, { auth: { token: await issuer.mint() }, transports: [transport] }),
      ),
    )
    expect(await request(sockets[1]!, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    await until(() => server.io.engine.clientsCount === 2)
    for (const socket of sockets) socket.close()
    await until(() => server.io.engine.clientsCount === 0, { what: 'every engine client gone' })
    expect(server.io.of('/').sockets.size).toBe(0)
    expect(server.metrics.connections).toBeDefined()
    const gauge = await server.metrics.connections.get()
    expect(gauge.values[0]?.value).toBe(0)
  })
})

describe('after cleanup', () => {
  it('no server, socket or timer of the test keeps the process alive', async () => {
    const probe = await leakProbe()
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, {
      connectionStateRecovery: { maxDisconnectionDurationMs: 60_000 },
    })
    const sockets = await Promise.all(
      ['websocket', 'polling'].map(async (transport) =>
        connect(url, { auth: { token: await issuer.mint() }, transports: [transport] }),
      ),
    )
    expect(await request(sockets[0]!, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    expect(probe.network()).toBeGreaterThan(0)
    await cleanup()
    await probe.gone()
  })
})
