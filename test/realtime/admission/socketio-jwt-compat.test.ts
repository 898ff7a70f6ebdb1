/**
 * The opt-in socketio-jwt compat mode end to end, driven by the client code
 * from socketio-jwt's README (node_modules/socketio-jwt/README.md, "Client
 * side") over a real socket.io-client: a socket that connects without a token
 * emits `authenticate` `{ token }` and gets `authenticated` or `unauthorized`.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Socket } from 'socket.io-client'
import type { SocketMiddleware } from '../../../realtime/admission/handshake.ts'
import {
  createSocketioJwtCompat,
  type WithDecodedToken,
} from '../../../realtime/admission/socketio-jwt-compat.ts'
import {
  cleanup,
  client,
  connect,
  envelope,
  next,
  refusal,
  startIssuer,
  startServer,
} from '../support.ts'
import { disconnection, leakProbe, request, settle, timeline, until } from '../waits.ts'

afterEach(cleanup)

type ClientOptions = Parameters<typeof client>[1]
type Outcome = { event: 'authenticated' } | { event: 'unauthorized'; msg: unknown }

/**
 * socketio-jwt's README client, as written there. `io.connect(url)` is
 * support's `client(url)` (tracked for cleanup, no reconnection), and the
 * README's `console.log` + `throw new Error(msg.data.type)` become the
 * outcome this resolves with: a throw inside a socket.io listener would be an
 * uncaught exception in the test process.
 */
function readmeClient(
  url: string,
  jwt: string | undefined,
  options: ClientOptions = {},
): { socket: Socket; outcome: Promise<Outcome> } {
  const socket = client(url, options)
  const outcome = new Promise<Outcome>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('neither authenticated nor unauthorized within 5 s')),
      5000,
    )
    const done = (result: Outcome) => {
      clearTimeout(timer)
      resolve(result)
    }
    socket.on('connect', () => {
      socket
        .emit('authenticate', { token: jwt }) //send the jwt
        .on('authenticated', () => {
          //do other things
          done({ event: 'authenticated' })
        })
        .on('unauthorized', (msg: unknown) => {
          // README: console.log(`unauthorized: ${JSON.stringify(msg.data)}`); throw new Error(msg.data.type)
          done({ event: 'unauthorized', msg })
        })
    })
  })
  return { socket, outcome }
}

/** socketio-jwt's error shape, flat and under `data`, with a generic message. */
const unauthorizedWith = (message: string) => ({
  message,
  code: 'invalid_token',
  type: 'UnauthorizedError',
  data: { message, code: 'invalid_token', type: 'UnauthorizedError' },
})

const COMPAT = { socketioJwtCompat: {} } as const

describe('the socketio-jwt compat mode', () => {
  it('authenticates a tokenless socket on authenticate { token }, after which chat works with envelopes', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, COMPAT)
    const token = await issuer.mint({ sub: 'u-old', sid: 's-old', name: 'olga' })
    const { socket, outcome } = readmeClient(url, token)

    expect(await outcome).toEqual({ event: 'authenticated' })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    const message = next(socket, 'chat:message')
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hello' })),
    ).toMatchObject({ ok: true })
    expect(await message).toMatchObject({
      room: 'lobby',
      from: { sub: 'u-old', name: 'olga' },
      text: 'hello',
    })

    const serverSocket = server.io.of('/').sockets.get(socket.id!)!
    expect(serverSocket.data.auth).toMatchObject({
      sub: 'u-old',
      sid: 's-old',
      name: 'olga',
      kid: issuer.key.kid,
    })
    expect((serverSocket as WithDecodedToken).decoded_token).toMatchObject({
      sub: 'u-old',
      sid: 's-old',
      name: 'olga',
    })
    const rooms = server.io.of('/').adapter.rooms
    expect(rooms.get('user:u-old')).toEqual(new Set([socket.id]))
    expect(rooms.get('session:s-old')).toEqual(new Set([socket.id]))
    expect((await server.metrics.connections.get()).values[0]?.value).toBe(1)
    expect((await server.metrics.socketioJwtCompat.get()).values).toEqual([
      { labels: { outcome: 'ok' }, value: 1 },
    ])
  })

  it('works over polling too', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, COMPAT)
    const { socket, outcome } = readmeClient(url, await issuer.mint(), { transports: ['polling'] })
    expect(await outcome).toEqual({ event: 'authenticated' })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
  })

  it('answers an invalid token with unauthorized in socketio-jwt shape, then disconnects', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, COMPAT)
    const forged = await issuer.mint({ iss: 'https://evil.example' })
    const { socket, outcome } = readmeClient(url, forged)
    const events = timeline(socket)
    const gone = disconnection(socket)

    expect(await outcome).toEqual({
      event: 'unauthorized',
      msg: unauthorizedWith('the access token is invalid'),
    })
    expect(await gone).toBe('io server disconnect')
    expect(events).toEqual([
      ['unauthorized', unauthorizedWith('the access token is invalid')],
      ['disconnect', 'io server disconnect'],
    ])
    expect(JSON.stringify(events)).not.toContain(forged)
  })

  it.each([
    ['no token', undefined, 'no access token'],
    ['a token that is not a JWS', 'not-a-jwt', 'the access token is malformed'],
  ])(
    'answers authenticate with %s with unauthorized, then disconnects',
    async (_, jwt, message) => {
      const issuer = await startIssuer()
      const { url } = await startServer(issuer, COMPAT)
      const { socket, outcome } = readmeClient(url, jwt)
      const gone = disconnection(socket)
      expect(await outcome).toEqual({ event: 'unauthorized', msg: unauthorizedWith(message) })
      expect(await gone).toBe('io server disconnect')
    },
  )

  it('gives a socket timeoutMs to authenticate, then sends unauthorized and disconnects it', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { socketioJwtCompat: { timeoutMs: 300 } })
    // Timed from before the socket exists, so the server's timer cannot have started earlier:
    // timed from the client's `connect`, a late delivery of that event (the server starts its
    // timer as it sends it) would eat into the wait and fail the bound on a busy machine.
    const openedAt = performance.now()
    const socket = client(url)
    const events = timeline(socket)
    await next(socket, 'connect')

    expect(await disconnection(socket)).toBe('io server disconnect')
    // A few ms under 300 for timer granularity (libuv's clock is coarse and whole-ms).
    expect(performance.now() - openedAt).toBeGreaterThanOrEqual(290)
    expect(events).toEqual([
      ['unauthorized', unauthorizedWith('no access token')],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('processes nothing else a pending socket sends: no listener, no ack, no broadcast', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, COMPAT)
    const listened: string[] = []
    server.io.on('connection', (s) => s.on('chat:send', () => listened.push('chat:send')))
    const observer = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-obs', sid: 's-obs' }) },
    })
    expect(await request(observer, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    const broadcast = timeline(observer)

    const pending = client(url)
    const events = timeline(pending)
    await next(pending, 'connect')
    const acks: unknown[] = []
    pending.emit('rt:join', envelope({ room: 'lobby' }), (reply: unknown) => acks.push(reply))
    pending.emit('chat:send', envelope({ room: 'lobby', text: 'before auth' }), (reply: unknown) =>
      acks.push(reply),
    )
    await settle(300)

    expect(acks).toEqual([])
    expect(listened).toEqual([])
    expect(broadcast).toEqual([])
    expect(events).toEqual([])
    expect(server.io.of('/').adapter.rooms.get('lobby')).toEqual(new Set([observer.id]))
    expect(pending.connected).toBe(true)

    // Dropped, not deferred: authenticating later does not replay them.
    const authenticated = next(pending, 'authenticated')
    pending.emit('authenticate', { token: await issuer.mint({ sub: 'u-late', sid: 's-late' }) })
    await authenticated
    await settle(200)
    expect(acks).toEqual([])
    expect(listened).toEqual([])
    expect(broadcast).toEqual([])
  })

  it('refuses authenticate for a revoked session with unauthorized, then disconnects', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, COMPAT)
    const now = Math.floor(Date.now() / 1000)
    server.revoke({ kind: 'session', id: 's-revoked', at: now, until: now + 600 })
    const { socket, outcome } = readmeClient(url, await issuer.mint({ sid: 's-revoked' }))
    const gone = disconnection(socket)
    expect(await outcome).toEqual({
      event: 'unauthorized',
      msg: unauthorizedWith('the session has been revoked'),
    })
    expect(await gone).toBe('io server disconnect')
    expect(server.io.of('/').sockets.size).toBe(0)
    expect((await server.metrics.socketioJwtCompat.get()).values).toEqual([
      { labels: { outcome: 'token_revoked' }, value: 1 },
    ])
  })

  it('holds a socket authenticated this way to the per-user cap', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { ...COMPAT, limits: { perUser: 1 } })
    await connect(url, { auth: { token: await issuer.mint({ sub: 'u-cap', sid: 's-1' }) } })
    const { outcome } = readmeClient(url, await issuer.mint({ sub: 'u-cap', sid: 's-2' }))
    expect(await outcome).toEqual({
      event: 'unauthorized',
      msg: unauthorizedWith('too many requests'),
    })
  })

  it('disconnects a socket authenticated this way at exp, after rt:error token_expired, like any other', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { ...COMPAT, clockToleranceSeconds: 0 })
    const { socket, outcome } = readmeClient(
      url,
      await issuer.mint({ exp: Math.floor(Date.now() / 1000) + 3 }),
    )
    const events = timeline(socket)
    expect(await outcome).toEqual({ event: 'authenticated' })
    expect(await disconnection(socket, 6000)).toBe('io server disconnect')
    expect(events.slice(-2)).toEqual([
      ['rt:error', { code: 'token_expired', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('runs the user middleware only once the socket has authenticated, with socket.data.auth set', async () => {
    const issuer = await startIssuer()
    const seen: (string | undefined)[] = []
    const middleware: SocketMiddleware = (socket, proceed) => {
      seen.push(socket.data.auth?.sub)
      proceed(socket.data.auth?.sub === 'u-banned' ? new Error('banned') : undefined)
    }
    const { url } = await startServer(issuer, { ...COMPAT, middleware })

    const pending = client(url)
    await next(pending, 'connect')
    expect(seen).toEqual([])

    expect(await readmeClient(url, await issuer.mint({ sub: 'u-ok' })).outcome).toEqual({
      event: 'authenticated',
    })
    const banned = readmeClient(url, await issuer.mint({ sub: 'u-banned', sid: 's-b' }))
    const gone = disconnection(banned.socket)
    expect(await banned.outcome).toEqual({
      event: 'unauthorized',
      msg: unauthorizedWith('not allowed'),
    })
    expect(await gone).toBe('io server disconnect')
    expect(seen).toEqual(['u-ok', 'u-banned'])
  })

  it('still refuses a handshake whose token is present but bad: only a missing token is let in pending', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, COMPAT)
    expect(await refusal(url, { auth: { token: 'not-a-jwt' } })).toMatchObject({
      message: 'token_malformed',
    })
    expect(
      await refusal(url, { auth: { token: await issuer.mint({ aud: 'elsewhere' }) } }),
    ).toMatchObject({ message: 'token_invalid' })
    expect(await refusal(url, { query: { token: await issuer.mint() } })).toMatchObject({
      message: 'token_in_query',
    })
  })

  it('also sets the deprecated socket.decoded_token on sockets authenticated in the handshake', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, COMPAT)
    const socket = await connect(url, { auth: { token: await issuer.mint({ sub: 'u-hs' }) } })
    const serverSocket = server.io.of('/').sockets.get(socket.id!) as unknown as WithDecodedToken
    expect(serverSocket.decoded_token).toMatchObject({ sub: 'u-hs' })
  })

  it('is off by default: a tokenless connect is refused with connect_error token_missing', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    expect(await refusal(url)).toEqual({
      message: 'token_missing',
      data: { code: 'token_missing', retryable: false, refresh: false },
    })
  })

  it('on close, tells a pending socket rt:error unavailable and disconnects it', async () => {
    const issuer = await startIssuer()
    const { server, url } = await startServer(issuer, COMPAT)
    const pending = client(url)
    const events = timeline(pending)
    await next(pending, 'connect')
    await server.close({ timeoutMs: 2000 })
    await until(() => events.length === 2, { what: 'rt:error and disconnect' })
    expect(events).toEqual([
      ['rt:error', { code: 'unavailable', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('refuses a timeoutMs that is not a positive number with a TypeError', () => {
    const deps = {
      tokenSource: {},
      verifier: {} as never,
      limits: {} as never,
      sessions: {} as never,
    }
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createSocketioJwtCompat({ ...deps, timeoutMs })).toThrow(TypeError)
    }
  })
})

describe('after cleanup', () => {
  it('no pending timer, server or socket of the compat mode keeps the process alive', async () => {
    const probe = await leakProbe()
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { socketioJwtCompat: { timeoutMs: 60_000 } })
    const pending = [client(url), client(url, { transports: ['polling'] })]
    await Promise.all(pending.map((s) => next(s, 'connect')))
    expect(probe.newTimers()).toBeGreaterThan(0)
    await cleanup()
    await probe.gone()
  })
})
