import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as v from 'valibot'
import { afterEach, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { defineEvent } from '../../../realtime/messages/registry.ts'
import { MAX_FRAME_BYTES } from '../../../realtime/messages/frame-size.ts'
import { MAX_ENVELOPE_BYTES } from '../../../shared/constants.ts'
import { rawConnect } from '../engine/raw-client.ts'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { request, until } from '../waits.ts'

afterEach(cleanup)

/** An event whose data may be as large as an envelope allows, binary included. */
const events = {
  ...chatEvents,
  'blob:send': defineEvent({
    schema: v.strictObject({ s: v.optional(v.string()), b: v.optional(v.any()) }),
    handler: () => ({ stored: true }),
  }),
}

/** JSON with every character of every string (keys too) written as `\uXXXX`, as an escaping encoder may. */
function escapeAll(value: unknown): string {
  if (typeof value === 'string') {
    let out = '"'
    for (let i = 0; i < value.length; i++)
      out += `\\u${value.charCodeAt(i).toString(16).padStart(4, '0')}`
    return `${out}"`
  }
  if (Array.isArray(value)) return `[${value.map(escapeAll).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, x]) => `${escapeAll(k)}:${escapeAll(x)}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/** An envelope for blob:send whose canonical serialization is exactly `bytes` UTF-8 bytes. */
function envelopeOfBytes(bytes: number): Record<string, unknown> {
  const base = envelope({ s: '' })
  const fill = bytes - Buffer.byteLength(JSON.stringify(base))
  const env = { ...base, data: { s: 'x'.repeat(fill) } }
  expect(Buffer.byteLength(JSON.stringify(env))).toBe(bytes)
  return env
}

async function setUp(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, { events, ...options })
  return { issuer, server, url }
}

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })

describe('frames escaped by the client', () => {
  it('accepts the largest valid envelope with every character escaped', async () => {
    const { issuer, url } = await setUp()
    const raw = await rawConnect(url, { token: await issuer.mint() })
    const frame = escapeAll(['blob:send', envelopeOfBytes(MAX_ENVELOPE_BYTES)])
    // Over five times the envelope limit on the wire, within the worst case.
    expect(frame.length).toBeGreaterThan(5 * MAX_ENVELOPE_BYTES)
    expect(frame.length + 8).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    raw.emit('blob:send', undefined, 1, frame)
    expect(await raw.ack(1)).toEqual({ ok: true, data: { stored: true } })
  })

  it('answers an envelope really over the limit with payload_too_large, escaped or not', async () => {
    const { issuer, url } = await setUp()
    const raw = await rawConnect(url, { token: await issuer.mint() })
    raw.emit(
      'blob:send',
      undefined,
      1,
      escapeAll(['blob:send', envelopeOfBytes(MAX_ENVELOPE_BYTES + 1)]),
    )
    expect(await raw.ack(1)).toEqual(refused('payload_too_large'))
    raw.emit('blob:send', envelopeOfBytes(MAX_ENVELOPE_BYTES + 1), 2)
    expect(await raw.ack(2)).toEqual(refused('payload_too_large'))
    expect(raw.closed()).toBe(false)
  })

  it("accepts a 2,000-emoji chat:send as Python's encoder writes it", async () => {
    const { issuer, url } = await setUp()
    const raw = await rawConnect(url, { token: await issuer.mint() })
    raw.emit('rt:join', envelope({ room: 'lobby' }), 1)
    await raw.ack(1)
    const env = envelope({ room: 'lobby', text: '\u{1F600}'.repeat(2000) })
    const frame = JSON.stringify(['chat:send', env]).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16)}`,
    )
    expect(frame.length).toBeGreaterThan(24_000)
    raw.emit('chat:send', undefined, 2, frame)
    expect(await raw.ack(2)).toMatchObject({ ok: true })
  })

  it('drops a frame beyond the worst case before parsing: the connection closes, no ack', async () => {
    const { issuer, server, url } = await setUp()
    const raw = await rawConnect(url, { token: await issuer.mint() })
    let handled = 0
    server.io.of('/').sockets.forEach((s) => s.onAny(() => handled++))
    raw.emit('blob:send', envelope({ s: 'x'.repeat(MAX_FRAME_BYTES) }), 1)
    await until(() => raw.closed(), { timeoutMs: 20_000, what: 'connection closed' })
    expect(raw.frames.some((f) => f.startsWith('431'))).toBe(false)
    expect(handled).toBe(0)
  })

  it('counts binary attachments in the envelope size', async () => {
    const { issuer, url } = await setUp()
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    expect(await request(socket, 'blob:send', envelope({ b: Buffer.alloc(1024, 7) }))).toEqual({
      ok: true,
      data: { stored: true },
    })
    expect(
      await request(socket, 'blob:send', envelope({ b: Buffer.alloc(MAX_ENVELOPE_BYTES, 7) })),
    ).toEqual(refused('payload_too_large'))
    expect(socket.connected).toBe(true)
  })
})

/** Run the Python client fixture; resolves with its JSON line. */
function python(args: string[]): Promise<any> {
  const script = fileURLToPath(new URL('../fixtures/python-client.py', import.meta.url))
  // Debian's python, where python3-socketio is installed (a pyenv python3 on PATH may lack it).
  const child = spawn('/usr/bin/python3', [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      try {
        const result = JSON.parse(out.trim().split('\n').pop() ?? '')
        if (code !== 0) reject(new Error(`python exited ${code}: ${out} ${err}`))
        else resolve(result)
      } catch {
        reject(new Error(`python exited ${code}: ${out} ${err}`))
      }
    })
  })
}

describe('a Python Socket.IO client (python3-socketio)', () => {
  // Its websocket client sends Origin: <the server's URL>; same-origin admission is issue 14 item 3.
  const options = { allowedOrigins: '*' as const }

  it.each([['websocket'], ['polling']])(
    'sends a maximum-size escaped chat:send over %s and gets ok',
    async (transport) => {
      const { issuer, url } = await setUp(options)
      const result = await python([url, await issuer.mint(), transport, 'send-max'])
      expect(result.transport).toBe(transport)
      expect(result.frameChars).toBeGreaterThan(24_000)
      expect(result.joined).toEqual({ ok: true, data: { room: 'lobby' } })
      expect(result.sent).toMatchObject({ ok: true, data: { id: expect.any(String) } })
    },
    90_000,
  )

  it.each([['websocket'], ['polling']])(
    'gets the refusal data for a bad token over %s',
    async (transport) => {
      const { issuer, url } = await setUp(options)
      const bad = (await issuer.mint()).slice(0, -4) + 'AAAA'
      const result = await python([url, bad, transport, 'refused'])
      // python-socketio hands the handler Socket.IO's CONNECT_ERROR payload, { message, data }.
      expect(result.refused).toMatchObject({
        message: 'token_invalid',
        data: { code: 'token_invalid', retryable: false, refresh: false },
      })
    },
    90_000,
  )
})
