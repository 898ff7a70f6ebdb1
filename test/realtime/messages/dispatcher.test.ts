import { decodeJwt } from 'jose'
import * as v from 'valibot'
import { afterEach, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import type { LogLevel } from '../../../realtime/log.ts'
import { defineEvent } from '../../../realtime/messages/registry.ts'
import { createRealtimeServer } from '../../../realtime/server.ts'
import { AppError } from '../../../shared/errors.ts'
import { MAX_ENVELOPE_BYTES } from '../../../shared/constants.ts'
import {
  cleanup,
  connect,
  envelope,
  forgedToken,
  next,
  startIssuer,
  startServer,
  type TestIssuer,
} from '../support.ts'
import { disconnection, record, request, settle, timeline, until } from '../waits.ts'

afterEach(cleanup)

async function alice(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, options)
  const socket = await connect(url, { auth: { token: await issuer.mint() } })
  return { issuer, server, url, socket }
}

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })

describe('the envelope', () => {
  const valid = () => envelope({ room: 'lobby', text: 'hi' })
  const without = (key: string) => {
    const e = valid()
    delete e[key]
    return e
  }
  // Each row: what is wrong, and the arguments sent with chat:send (before the ack).
  const malformed: [string, unknown[]][] = [
    ['a string instead of an object', ['{"v":1}']],
    ['null', [null]],
    ['an array', [[valid()]]],
    ['a number', [42]],
    ['no v', [without('v')]],
    ['no id', [without('id')]],
    ['no ts', [without('ts')]],
    ['no data', [without('data')]],
    ['v: 2', [{ ...valid(), v: 2 }]],
    ['v: "1"', [{ ...valid(), v: '1' }]],
    ['an id with a space', [{ ...valid(), id: 'm 1' }]],
    ['an id with a slash', [{ ...valid(), id: 'm/1' }]],
    ['an empty id', [{ ...valid(), id: '' }]],
    ['an id of 65 characters', [{ ...valid(), id: 'a'.repeat(65) }]],
    ['a numeric id', [{ ...valid(), id: 1 }]],
    ['a float ts', [{ ...valid(), ts: 1763800000000.5 }]],
    ['a string ts', [{ ...valid(), ts: '1763800000000' }]],
    ['an unknown top-level key', [{ ...valid(), extra: true }]],
    ['a non-string token', [{ ...valid(), token: 42 }]],
    ['two arguments', [valid(), valid()]],
    ['zero arguments', []],
    ['data missing text', [envelope({ room: 'lobby' })]],
    [
      'data with an unknown key (a client-chosen sender)',
      [envelope({ room: 'lobby', text: 'hi', from: { sub: 'admin' } })],
    ],
    ['data with empty text', [envelope({ room: 'lobby', text: '' })]],
    ['data with text over 2000 characters', [envelope({ room: 'lobby', text: 'x'.repeat(2001) })]],
    ['data with a room of bad characters', [envelope({ room: 'lob by', text: 'hi' })]],
    ['data that is a string', [envelope('hi')]],
  ]

  it.each(malformed)(
    'refuses %s with envelope_invalid and keeps the connection',
    async (_, args) => {
      const { socket } = await alice()
      await request(socket, 'rt:join', envelope({ room: 'lobby' }))
      const messages = record(socket, 'chat:message')
      expect(await request(socket, 'chat:send', ...args)).toEqual(refused('envelope_invalid'))
      // Still connected, and the refused message reached no one.
      expect(await request(socket, 'chat:send', valid())).toMatchObject({ ok: true })
      await until(() => messages.length === 1)
      expect(messages).toHaveLength(1)
    },
  )

  it('checks the envelope before the event name: a malformed envelope of an unknown event is envelope_invalid', async () => {
    const { socket } = await alice()
    expect(await request(socket, 'no:such', { v: 2 })).toEqual(refused('envelope_invalid'))
  })

  it('accepts data: null as a present value for an event whose schema allows it', async () => {
    const { socket, issuer } = await alice()
    const token = await issuer.mint()
    expect(await request(socket, 'rt:auth', envelope(null, { token }))).toEqual({
      ok: true,
      data: { exp: decodeJwt(token).exp },
    })
  })
})

describe('envelope size', () => {
  it('refuses an envelope between 16 KiB and the engine limit with payload_too_large and keeps the connection', async () => {
    const { socket } = await alice()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    const big = envelope({ room: 'lobby', text: 'x'.repeat(MAX_ENVELOPE_BYTES + 200) })
    expect(JSON.stringify(big).length).toBeGreaterThan(MAX_ENVELOPE_BYTES)
    expect(await request(socket, 'chat:send', big)).toEqual(refused('payload_too_large'))
    expect(socket.connected).toBe(true)
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'still here' })),
    ).toMatchObject({ ok: true })
  })

  it('measures an envelope carrying binary data by its serialized size, not its text frame', async () => {
    const { socket } = await alice()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    // Sent as a small text frame plus a 10,000-byte binary attachment: under
    // the engine's limit, but serialized (as a Buffer's JSON) over the envelope's.
    const big = envelope({ room: 'lobby', text: Buffer.alloc(10_000) })
    expect(JSON.stringify(big).length).toBeGreaterThan(MAX_ENVELOPE_BYTES)
    expect(await request(socket, 'chat:send', big)).toEqual(refused('payload_too_large'))
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'still here' })),
    ).toMatchObject({ ok: true })
  })

  it('measures the limit in UTF-8 bytes, not characters', async () => {
    const { socket } = await alice()
    // 5,500 euro signs: 5,500 characters but 16,500 bytes.
    const big = envelope({ room: 'lobby', text: '€'.repeat(5500) })
    expect(JSON.stringify(big).length).toBeLessThan(MAX_ENVELOPE_BYTES)
    expect(await request(socket, 'chat:send', big)).toEqual(refused('payload_too_large'))
  })

  it.each([['websocket'], ['polling']])(
    'drops a 100 KiB frame over %s at the engine, closing only that connection; the server keeps serving others',
    async (transport) => {
      const issuer = await startIssuer()
      const { server, url } = await startServer(issuer)
      const bob = await connect(url, {
        auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b', name: 'bob' }) },
      })
      const mallory = await connect(url, {
        auth: { token: await issuer.mint({ sub: 'u-m', sid: 's-m' }) },
        transports: [transport],
      })
      const refusedFrames = record(mallory, 'rt:error')
      const gone = disconnection(mallory)
      mallory.emit('chat:send', envelope({ room: 'lobby', text: 'x'.repeat(100 * 1024) }))
      expect(await gone).toMatch(/^transport (close|error)$/)
      expect(refusedFrames).toEqual([])
      // The server did not crash: bob still chats, and a new client connects.
      expect(await request(bob, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
      const carol = await connect(url, {
        auth: { token: await issuer.mint({ sub: 'u-c', sid: 's-c' }) },
      })
      expect(await request(carol, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
        ok: true,
      })
      await until(() => server.io.engine.clientsCount === 2, {
        what: 'only bob and carol connected',
      })
    },
  )
})

describe('events and scopes', () => {
  it('refuses an unregistered event with unknown_event', async () => {
    const { socket } = await alice()
    expect(await request(socket, 'admin:shutdown', envelope({}))).toEqual(refused('unknown_event'))
  })

  it('refuses a send without the event scope with forbidden, before looking at the data', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const carol = await connect(url, {
      auth: {
        token: await issuer.mint({ sub: 'u-c', sid: 's-c', scope: 'chat:read', rooms: ['lobby'] }),
      },
    })
    expect(await request(carol, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(await request(carol, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(
      refused('forbidden'),
    )
    // Scope comes before the data schema in the contract's order.
    expect(await request(carol, 'chat:send', envelope({ nonsense: true }))).toEqual(
      refused('forbidden'),
    )
  })

  it('a scope that merely contains the required one as a substring does not grant it', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ scope: 'chat:read chat:writer xchat:write' }) },
    })
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(
      refused('forbidden'),
    )
  })
})

describe('refusals without an ack', () => {
  it('arrive as rt:error carrying the envelope id', async () => {
    const { socket } = await alice()
    const error = next(socket, 'rt:error')
    socket.emit('no:such', envelope({}, { id: 'm-0042' }))
    expect(await error).toEqual({ id: 'm-0042', code: 'unknown_event', message: 'unknown event' })
  })

  it('name the id of an envelope that failed its schema when that id is usable', async () => {
    const { socket } = await alice()
    const errors = record(socket, 'rt:error')
    socket.emit('chat:send', { ...envelope({}), id: 'm-7', extra: 1 })
    socket.emit('chat:send', { ...envelope({}), id: 'bad id', extra: 1 })
    await until(() => errors.length === 2)
    expect(errors).toEqual([
      { id: 'm-7', code: 'envelope_invalid', message: expect.any(String) },
      { code: 'envelope_invalid', message: expect.any(String) },
    ])
  })

  it('answer an accepted message with nothing', async () => {
    const { socket } = await alice()
    const errors = record(socket, 'rt:error')
    socket.emit('rt:join', envelope({ room: 'lobby' }))
    // A later acknowledged message proves the first was handled (per-socket order).
    expect(await request(socket, 'rt:join', envelope({ room: 'team:a:x' }))).toMatchObject({
      ok: true,
    })
    expect(errors).toEqual([])
  })
})

describe('message rate', () => {
  // A frozen server clock: the bucket cannot refill between messages, however slow the machine.
  const frozen = () => {
    const t0 = Date.now()
    return () => t0
  }

  it('refuses messages after the burst with rate_limited and retryAfterMs > 0', async () => {
    const { socket } = await alice({ messageRate: { perSecond: 1, burst: 3 }, now: frozen() })
    for (let i = 0; i < 3; i++)
      expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
        ok: true,
      })
    const reply = await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    expect(reply).toEqual({
      ok: false,
      error: {
        code: 'rate_limited',
        message: expect.any(String),
        retryAfterMs: expect.any(Number),
      },
    })
    expect(reply.error.retryAfterMs).toBeGreaterThan(0)
    expect(reply.error.retryAfterMs).toBeLessThanOrEqual(1000)
    expect(socket.connected).toBe(true)
  })

  it('sends retryAfterMs in rt:error when there is no ack, and counts unknown events against the rate', async () => {
    const { socket } = await alice({ messageRate: { perSecond: 1, burst: 2 }, now: frozen() })
    const errors = record(socket, 'rt:error')
    socket.emit('no:such', envelope({}, { id: 'a' }))
    socket.emit('no:such', envelope({}, { id: 'b' }))
    socket.emit('no:such', envelope({}, { id: 'c' }))
    await until(() => errors.length === 3)
    expect(errors.map((e) => e.code)).toEqual(['unknown_event', 'unknown_event', 'rate_limited'])
    expect(errors[2]).toMatchObject({ id: 'c', retryAfterMs: expect.any(Number) })
    expect(errors[2].retryAfterMs).toBeGreaterThan(0)
  })

  it('gives each socket its own bucket', async () => {
    const { socket, issuer, url } = await alice({
      messageRate: { perSecond: 1, burst: 1 },
      now: frozen(),
    })
    const other = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b' }) },
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      error: { code: 'rate_limited' },
    })
    expect(await request(other, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
  })
})

describe('in-band tokens', () => {
  it.each([
    ['another sub', { sub: 'user-2' }],
    ['another sid', { sid: 'session-2' }],
    ['another sub and sid', { sub: 'user-2', sid: 'session-2' }],
  ])(
    'refuses a token for %s with token_mismatch, never adopting it, then closes the connection (v1.2)',
    async (_, claims) => {
      const { socket, issuer } = await alice()
      const foreign = await issuer.mint({
        ...claims,
        scope: 'chat:read',
        rooms: [],
        exp: Math.floor(Date.now() / 1000) + 1000,
      })
      const gone = disconnection(socket)
      expect(await request(socket, 'rt:auth', envelope(null, { token: foreign }))).toEqual(
        refused('token_mismatch'),
      )
      expect(await gone).toBe('io server disconnect')
    },
  )

  it('makes a verified token the connection token: rt:auth acks its exp', async () => {
    const { socket, issuer } = await alice()
    const exp = Math.floor(Date.now() / 1000) + 900
    const token = await issuer.mint({ exp })
    expect(await request(socket, 'rt:auth', envelope(null, { token }))).toEqual({
      ok: true,
      data: { exp },
    })
  })

  it('applies a token on any event, so its scope governs that same message', async () => {
    const { socket, issuer } = await alice()
    await request(socket, 'rt:join', envelope({ room: 'lobby' }))
    const readOnly = await issuer.mint({ scope: 'chat:read' })
    expect(
      await request(
        socket,
        'chat:send',
        envelope({ room: 'lobby', text: 'hi' }, { token: readOnly }),
      ),
    ).toEqual(refused('forbidden'))
    // And stays the connection's token afterwards.
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(
      refused('forbidden'),
    )
  })

  it('refuses a token past its exp with token_expired, keeping the connection and its token', async () => {
    const { socket, issuer } = await alice()
    const token = await expiredToken(issuer)
    expect(await request(socket, 'rt:auth', envelope(null, { token }))).toEqual(
      refused('token_expired'),
    )
    expect(socket.connected).toBe(true)
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
  })

  it('refuses rt:auth without a token with token_missing', async () => {
    const { socket } = await alice()
    expect(await request(socket, 'rt:auth', envelope(null))).toEqual(refused('token_missing'))
  })

  it('with requireEnvelopeToken, refuses an envelope without token (token_missing) and accepts one with it', async () => {
    const { socket, issuer } = await alice({ requireEnvelopeToken: true })
    const token = await issuer.mint()
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual(
      refused('token_missing'),
    )
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }, { token }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(
      await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }, { token })),
    ).toMatchObject({ ok: true })
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' }))).toEqual(
      refused('token_missing'),
    )
  })
})

describe('handlers', () => {
  async function withEvents(options: Parameters<typeof startServer>[1] = {}) {
    const logs: [LogLevel, string, Record<string, unknown> | undefined][] = []
    // test:slow waits until the test releases it.
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const events = {
      ...chatEvents,
      'test:crash': defineEvent({
        schema: v.null(),
        handler: () => {
          throw new Error('internal detail: db password rejected')
        },
      }),
      'test:reject': defineEvent({
        schema: v.null(),
        handler: async () => Promise.reject(new Error('async internal detail')),
      }),
      'test:refuse': defineEvent({
        schema: v.null(),
        handler: () => {
          throw new AppError('forbidden', 'application policy')
        },
      }),
      'test:echo': defineEvent({
        schema: v.strictObject({ n: v.number() }),
        handler: ({ data }) => data.n,
      }),
      'test:slow': defineEvent({
        schema: v.strictObject({ n: v.number() }),
        handler: async ({ data }) => {
          await gate
          return data.n
        },
      }),
    }
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, {
      events,
      logger: (level, msg, fields) => logs.push([level, msg, fields]),
      ...options,
    })
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    return { socket, logs, release }
  }

  it('answers an unexpected handler failure with a generic unavailable, and logs it', async () => {
    const { socket, logs } = await withEvents()
    for (const event of ['test:crash', 'test:reject']) {
      const reply = await request(socket, event, envelope(null))
      expect(reply).toEqual({
        ok: false,
        error: { code: 'unavailable', message: 'temporarily unavailable' },
      })
      expect(JSON.stringify(reply)).not.toContain('internal detail')
    }
    expect(
      logs
        .filter(([level, msg]) => level === 'error' && msg === 'handler failed')
        .map(([, , f]) => f?.event),
    ).toEqual(['test:crash', 'test:reject'])
  })

  it('passes a coded refusal from a handler through with its code', async () => {
    const { socket } = await withEvents()
    expect(await request(socket, 'test:refuse', envelope(null))).toEqual(refused('forbidden'))
  })

  it('keeps handling a socket after one of its handlers failed, in order', async () => {
    const { socket } = await withEvents()
    socket.emit('test:crash', envelope(null))
    const replies = await Promise.all(
      [1, 2, 3].map((n) => request(socket, 'test:echo', envelope({ n }))),
    )
    expect(replies).toEqual([1, 2, 3].map((n) => ({ ok: true, data: n })))
  })

  it('holds the messages behind an async handler until it has finished, then handles them in order', async () => {
    const { socket, release } = await withEvents()
    const replies: unknown[] = []
    const all = [
      request(socket, 'test:slow', envelope({ n: 0 })).then((r) => replies.push(r)),
      ...[1, 2, 3].map((n) =>
        request(socket, 'test:echo', envelope({ n })).then((r) => replies.push(r)),
      ),
    ]
    await settle(200)
    expect(replies).toEqual([])
    release()
    await Promise.all(all)
    expect(replies).toEqual([0, 1, 2, 3].map((n) => ({ ok: true, data: n })))
  })

  it('refuses what queues beyond the burst behind a waiting message with rate_limited, and handles the rest', async () => {
    // A refill this fast leaves the burst as the only bound: the backlog's.
    const { socket, release } = await withEvents({ messageRate: { perSecond: 1e6, burst: 3 } })
    const slow = request(socket, 'test:slow', envelope({ n: 0 }))
    const echoes = [1, 2, 3, 4, 5].map((n) => request(socket, 'test:echo', envelope({ n })))
    // The two over the backlog are answered while the first still waits.
    for (const reply of await Promise.all(echoes.slice(3))) {
      expect(reply).toEqual({
        ok: false,
        error: {
          code: 'rate_limited',
          message: expect.any(String),
          retryAfterMs: expect.any(Number),
        },
      })
    }
    // A clock tick refills the token the first message took, so the bucket
    // holds all three queued ones.
    await settle(5)
    release()
    expect(await slow).toEqual({ ok: true, data: 0 })
    expect(await Promise.all(echoes.slice(0, 3))).toEqual(
      [1, 2, 3].map((n) => ({ ok: true, data: n })),
    )
    expect(socket.connected).toBe(true)
  })

  it('checks registration before scope: an unknown event is unknown_event even without any scope', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const socket = await connect(url, { auth: { token: await issuer.mint({ scope: '' }) } })
    expect(await request(socket, 'no:such', envelope({}))).toEqual(refused('unknown_event'))
  })

  it.each([['rt:custom'], ['disconnect'], ['connect'], ['error']])(
    'refuses to register the reserved name %s',
    (name) => {
      const handler = defineEvent({ schema: v.null(), handler: () => undefined })
      expect(() =>
        createRealtimeServer({ issuer: 'http://127.0.0.1:1', events: { [name]: handler } }),
      ).toThrow(TypeError)
    },
  )
})

/** A token with a valid signature whose `exp` has passed: verifying it costs a full signature check. */
async function expiredToken(issuer: TestIssuer): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return issuer.mint({ iat: now - 600, nbf: now - 600, exp: now - 60 })
}

/** A connected socket, and the server's count of signature checks since it connected. */
async function countingVerifications(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, options)
  const socket = await connect(url, { auth: { token: await issuer.mint() } })
  const checks = async () => {
    const { values } = await server.metrics.signatureChecks.get()
    return values.reduce((sum, { value }) => sum + value, 0)
  }
  const before = await checks()
  return { issuer, server, socket, verifications: async () => (await checks()) - before }
}

describe('in-band tokens that fail (hardening: issue 15 item 3)', () => {
  // A frozen server clock: the bucket cannot refill between messages, however slow the machine.
  const frozen = () => {
    const t0 = Date.now()
    return () => t0
  }

  it('charges the message rate before verifying: past the burst, in-band tokens are refused unverified', async () => {
    const { issuer, socket, verifications } = await countingVerifications({
      messageRate: { perSecond: 1, burst: 5 },
      now: frozen(),
    })
    const tokens = await Promise.all(Array.from({ length: 20 }, () => expiredToken(issuer)))
    const codes: string[] = []
    for (const token of tokens) {
      const reply = await request(socket, 'rt:auth', envelope(null, { token }))
      codes.push(reply.error.code)
    }
    expect(codes).toEqual([...Array(5).fill('token_expired'), ...Array(15).fill('rate_limited')])
    expect(await verifications()).toBe(5)
    expect(socket.connected).toBe(true)
  })

  it.each([
    ['a random signature under a real kid', forgedToken, 'token_invalid'],
    ['an unverifiable string', async () => 'not-a-jwt', 'token_malformed'],
  ])('answers %s with its code, then rt:error, then disconnects', async (_, make, code) => {
    const { issuer, socket } = await alice()
    const events = timeline(socket)
    const token = await make(issuer)
    expect(await request(socket, 'rt:auth', envelope(null, { token, id: 'forged-1' }))).toEqual(
      refused(code),
    )
    await until(() => events.some(([name]) => name === 'disconnect'))
    // v1.2: the ack answered the envelope, so the rt:error before the disconnect has no id.
    expect(events).toEqual([
      ['rt:error', { code, message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('a pipelined flood of forged in-band tokens costs one signature check, then the socket is gone', async () => {
    const { issuer, server, socket, verifications } = await countingVerifications({
      messageRate: { perSecond: 20, burst: 10 },
    })
    const forged = await Promise.all(Array.from({ length: 200 }, () => forgedToken(issuer)))
    const gone = disconnection(socket)
    for (const token of forged)
      socket.emit('chat:send', envelope({ room: 'lobby', text: 'x' }, { token }))
    expect(await gone).toBe('io server disconnect')
    expect(await verifications()).toBe(1)
    const metrics = await server.metrics.registry.getSingleMetricAsString(
      'realtime_server_disconnects_total',
    )
    expect(metrics).toContain('realtime_server_disconnects_total{code="token_invalid"} 1')
  })
})

describe('envelope_invalid names the field and the rule, never the value (docs/protocol.md §5, v1.2)', () => {
  it.each([
    [
      'an envelope id with a colon',
      { ...envelope({ room: 'lobby' }), id: 'secret:value' },
      /^id: /,
    ],
    [
      'an unknown top-level key',
      { ...envelope({ room: 'lobby' }), secretvalue: 1 },
      /^secretvalue: unknown key$/,
    ],
    [
      'a ts that is not an integer',
      { ...envelope({ room: 'lobby' }), ts: 'secret-value' },
      /^ts: /,
    ],
    ['a room name with a space', envelope({ room: 'secret value' }), /^data\.room: /],
    [
      'an unknown data key',
      envelope({ room: 'lobby', secretvalue: 1 }),
      /^data\.secretvalue: unknown key$/,
    ],
  ])('%s', async (_, payload, message) => {
    const { socket } = await alice()
    const reply = await request(socket, 'rt:join', payload)
    expect(reply).toEqual(refused('envelope_invalid'))
    expect(reply.error.message).toMatch(message)
    expect(reply.error.message).not.toMatch(/secret.value/)
    expect(reply.error.message).not.toBe('the message does not match the schema')
  })
})
