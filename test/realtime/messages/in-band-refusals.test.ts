/**
 * The order of a refusal that also closes the connection (docs/protocol.md
 * §5, v1.2): the envelope is answered first (its ack, or `rt:error` with its
 * id), then `rt:error` without id, then the disconnect; a bad room grant is
 * refused and never closes the connection. Recorded with a real
 * socket.io-client, in the order its events and acks arrive.
 */
import * as v from 'valibot'
import type { Socket } from 'socket.io-client'
import { afterEach, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { defineEvent } from '../../../realtime/messages/registry.ts'
import {
  cleanup,
  connect,
  envelope,
  forgedToken,
  startIssuer,
  startServer,
  type TestIssuer,
} from '../support.ts'
import { movableClock } from '../admission/handshake-helpers.ts'
import { request, timeline, until } from '../waits.ts'

afterEach(cleanup)

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })

/** Emit with an ack that lands in the same timeline as the events, as `['ack', reply]`. */
function emitInto(
  events: [string, unknown][],
  socket: Socket,
  event: string,
  payload: unknown,
): void {
  socket.emit(event, payload, (reply: unknown) => events.push(['ack', reply]))
}

const closed = (events: [string, unknown][]) =>
  until(() => events.some(([name]) => name === 'disconnect'), {
    timeoutMs: 10_000,
    what: 'disconnect',
  })

async function alice(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, options)
  const socket = await connect(url, { auth: { token: await issuer.mint() } })
  return { issuer, server, url, socket, events: timeline(socket) }
}

describe('a refusal that closes the connection answers the envelope first', () => {
  it.each([
    ['a forged in-band token', forgedToken, 'token_invalid'],
    ['a malformed in-band token', async () => 'not-a-jwt', 'token_malformed'],
    [
      'an in-band token of another user',
      (issuer: TestIssuer) => issuer.mint({ sub: 'mallory' }),
      'token_mismatch',
    ],
  ])(
    'with an ack, %s: the ack, then rt:error without id, then the disconnect',
    async (_, make, code) => {
      const { issuer, socket, events } = await alice()
      emitInto(events, socket, 'rt:auth', envelope(null, { token: await make(issuer), id: 'e-1' }))
      await closed(events)
      expect(events).toEqual([
        ['ack', refused(code)],
        ['rt:error', { code, message: expect.any(String) }],
        ['disconnect', 'io server disconnect'],
      ])
    },
  )

  it('without an ack, a forged in-band token: one rt:error with the id, then the disconnect', async () => {
    const { issuer, socket, events } = await alice()
    socket.emit('rt:auth', envelope(null, { token: await forgedToken(issuer), id: 'e-2' }))
    await closed(events)
    expect(events).toEqual([
      ['rt:error', { id: 'e-2', code: 'token_invalid', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('an envelope that finds the connection token expired gets its ack before rt:error and the disconnect', async () => {
    const clock = movableClock()
    let release!: () => void
    let held = false
    const gate = new Promise<void>((resolve) => (release = resolve))
    const { socket, events } = await alice({
      now: clock.now,
      events: {
        ...chatEvents,
        // Holds the pipeline, so the next envelope is checked after the clock moved.
        'test:hold': defineEvent({
          schema: v.null(),
          handler: () => {
            held = true
            return gate
          },
        }),
      },
    })
    emitInto(events, socket, 'test:hold', envelope(null))
    emitInto(events, socket, 'rt:join', envelope({ room: 'lobby' }, { id: 'late-1' }))
    await until(() => held, { what: 'test:hold running' })
    // Both in one turn: the expiry timer cannot run between them.
    clock.advance(3600_000)
    release()
    await closed(events)
    expect(events).toEqual([
      ['ack', { ok: true }],
      ['ack', refused('token_expired')],
      ['rt:error', { code: 'token_expired', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })
})

describe('a bad room grant never closes the connection', () => {
  it('an access token offered as a grant is refused through the ack; the socket stays and keeps working', async () => {
    const { issuer, socket, events } = await alice()
    const accessToken = await issuer.mint({ rooms: [] })
    const reply = await request(
      socket,
      'rt:join',
      envelope({ room: 'vip', grant: accessToken }, { id: 'g-1' }),
    )
    expect(reply.ok).toBe(false)
    expect(['token_invalid', 'forbidden']).toContain(reply.error.code)
    socket.emit('rt:join', envelope({ room: 'vip', grant: accessToken }, { id: 'g-2' }))
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(socket.connected).toBe(true)
    expect(events).toEqual([
      ['rt:error', { id: 'g-2', code: reply.error.code, message: expect.any(String) }],
    ])
  })
})
