import { env } from 'cloudflare:workers'
import { Hono } from 'hono'
import * as v from 'valibot'
import { beforeAll, describe, expect, it } from 'vitest'
import { handleError } from '../../../edge/http/errors.ts'
import { jsonBody } from '../../../edge/http/json-body.ts'
import type { AppEnv } from '../../../edge/types.ts'
import {
  ADMIN_TOKEN,
  call,
  createUser,
  expectError,
  freshAddress,
  loginOk,
  type TestUser,
} from '../support.ts'

const MAX = 8192
const encoder = new TextEncoder()

/** A login body of exactly `bytes` bytes: valid JSON padded with whitespace. */
function paddedLogin(username: string, password: string, bytes: number): string {
  const json = JSON.stringify({ username, password })
  return json.slice(0, -1) + ' '.repeat(bytes - json.length) + '}'
}

/** A body with no Content-Length: the bytes arrive as a stream of small chunks. */
function streamOf(bytes: Uint8Array, chunk = 1000): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(offset, offset + chunk))
      offset += chunk
    },
  })
}

function post(path: string, body: BodyInit | null, headers: Record<string, string> = {}) {
  return call(path, {
    method: 'POST',
    headers,
    body,
    ...(body instanceof ReadableStream && { duplex: 'half' }),
  })
}

let alice: TestUser

beforeAll(async () => {
  alice = await createUser()
})

describe('JSON bodies: media type', () => {
  const valid = () => JSON.stringify({ username: alice.username, password: alice.password })

  it.each([
    ['text/plain', 'text/plain'],
    ['text/plain with a charset', 'text/plain;charset=UTF-8'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['a JSON suffix type', 'application/json-patch+json'],
    ['text/json', 'text/json'],
    ['a look-alike', 'application/jsonp'],
    ['a non-UTF-8 charset', 'application/json; charset=latin1'],
    ['an unknown parameter', 'application/json; x=1'],
  ])('answers 415 unsupported_media_type for %s', async (_, type) => {
    const res = await post('/auth/login', valid(), { 'content-type': type })
    await expectError(res, 415, 'unsupported_media_type', [alice.password])
  })

  it('answers 415 when there is no Content-Type at all', async () => {
    const res = await post('/auth/login', encoder.encode(valid()))
    expect(res.status).toBe(415)
    await expectError(res, 415, 'unsupported_media_type')
  })

  it.each([
    ['a UTF-8 charset', 'application/json; charset=utf-8'],
    ['a quoted upper-case charset', 'application/json;charset="UTF-8"'],
    ['upper-case type', 'Application/JSON'],
  ])('accepts application/json with %s', async (_, type) => {
    const res = await post('/auth/login', valid(), {
      'content-type': type,
      'cf-connecting-ip': freshAddress(),
    })
    expect(res.status).toBe(200)
  })

  it('does not create a user from a form-encoded admin request', async () => {
    const res = await post('/admin/users', 'username=mallory&password=p&scope=&rooms=', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Bearer ${ADMIN_TOKEN}`,
    })
    await expectError(res, 415, 'unsupported_media_type')
    const row = await env.DB.prepare('SELECT 1 FROM users WHERE username_key = ?')
      .bind('mallory')
      .first()
    expect(row).toBeNull()
  })

  it('does not count a refused media type as a failed login', async () => {
    const address = freshAddress()
    for (let i = 0; i < 8; i++) {
      const res = await post('/auth/login', valid(), {
        'content-type': 'text/plain',
        'cf-connecting-ip': address,
      })
      expect(res.status).toBe(415)
    }
    await loginOk(alice, address)
  })
})

describe('JSON bodies: size', () => {
  const json = { 'content-type': 'application/json' }

  it('parses a body of exactly 8192 bytes', async () => {
    const body = paddedLogin(alice.username, alice.password, MAX)
    expect(encoder.encode(body).length).toBe(MAX)
    const res = await post('/auth/login', body, { ...json, 'cf-connecting-ip': freshAddress() })
    expect(res.status).toBe(200)
  })

  it('answers 413 payload_too_large for 8193 bytes with an honest Content-Length', async () => {
    const body = paddedLogin(alice.username, alice.password, MAX + 1)
    const res = await post('/auth/login', body, { ...json, 'content-length': String(MAX + 1) })
    await expectError(res, 413, 'payload_too_large', [alice.password])
  })

  it('answers 413 for 8193 bytes streamed without a Content-Length', async () => {
    const bytes = encoder.encode(paddedLogin(alice.username, alice.password, MAX + 1))
    const res = await post('/auth/login', streamOf(bytes), json)
    await expectError(res, 413, 'payload_too_large', [alice.password])
  })

  it('answers 413 for a 1 MiB stream without buffering it into a parse', async () => {
    const bytes = encoder.encode('[' + '0,'.repeat(512 * 1024) + '0]')
    const res = await post('/auth/login', streamOf(bytes, 4096), json)
    await expectError(res, 413, 'payload_too_large')
  })

  it('counts bytes, not characters: a body under 8192 UTF-16 units but over 8192 bytes is refused', async () => {
    const body = JSON.stringify({
      username: 'alice',
      password: '🦊'.repeat(1020) + 'x'.repeat(4200),
    })
    expect(body.length).toBeLessThan(MAX)
    expect(encoder.encode(body).length).toBeGreaterThan(MAX)
    const res = await post('/auth/login', body, json)
    await expectError(res, 413, 'payload_too_large')
  })

  it('applies the limit on every JSON route', async () => {
    const big = JSON.stringify({ refresh_token: 'x'.repeat(MAX) })
    await expectError(await post('/auth/refresh', big, json), 413, 'payload_too_large')
    await expectError(await post('/auth/logout', big, json), 413, 'payload_too_large')
    const admin = { ...json, authorization: `Bearer ${ADMIN_TOKEN}` }
    await expectError(await post('/admin/users', big, admin), 413, 'payload_too_large')
  })
})

describe('JSON bodies: encoding and syntax', () => {
  const json = { 'content-type': 'application/json' }
  const bytes = (...parts: (string | number[])[]) => {
    const chunks = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : new Uint8Array(p)))
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const c of chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  }

  it.each([
    ['a 0xFF byte', bytes('{"username":"a', [0xff], '","password":"p"}')],
    ['an overlong encoding of /', bytes('{"username":"a', [0xc0, 0xaf], '","password":"p"}')],
    [
      'an encoded surrogate (CESU-8)',
      bytes('{"username":"a', [0xed, 0xa0, 0x80], '","password":"p"}'),
    ],
    ['a truncated sequence', bytes('{"username":"a', [0xe2, 0x82], '","password":"p"}')],
    ['UTF-16LE', new Uint8Array([0x7b, 0x00, 0x7d, 0x00])],
  ])('answers 400 invalid_request for invalid UTF-8: %s', async (_, body) => {
    const res = await post('/auth/login', body, json)
    const err = await expectError(res, 400, 'invalid_request')
    expect(err.error_description).toMatch(/UTF-8|JSON/)
  })

  it.each([
    ['an empty body', ''],
    ['a truncated object', '{"username":"alice",'],
    ['single quotes', "{'username':'alice','password':'p'}"],
    ['a trailing comma', '{"username":"alice","password":"p",}'],
    ['a comment', '{"username":"alice"/*x*/,"password":"p"}'],
    ['NaN', '{"username":"alice","password":NaN}'],
    ['two documents', '{"username":"a","password":"p"}{"username":"b","password":"q"}'],
  ])('answers 400 invalid_request for invalid JSON: %s', async (_, body) => {
    const res = await post('/auth/login', body, json)
    await expectError(res, 400, 'invalid_request')
  })

  it.each([
    ['deeply nested arrays', '['.repeat(4000) + ']'.repeat(4000)],
    ['deeply nested objects', '{"a":'.repeat(1300) + '1' + '}'.repeat(1300)],
  ])('answers 400 invalid_request, never 500, for %s', async (_, body) => {
    expect(encoder.encode(body).length).toBeLessThanOrEqual(MAX)
    await expectError(await post('/auth/login', body, json), 400, 'invalid_request')
  })

  it('answers 400 with a JSON content type and no body on a route whose body is required', async () => {
    await expectError(await post('/auth/refresh', null, json), 400, 'invalid_request')
  })

  it('decodes a UTF-8 byte-order mark as no character (the body still parses)', async () => {
    const body = bytes(
      [0xef, 0xbb, 0xbf],
      JSON.stringify({ username: alice.username, password: alice.password }),
    )
    const res = await post('/auth/login', body, { ...json, 'cf-connecting-ip': freshAddress() })
    expect(res.status).toBe(200)
  })
})

describe('jsonBody(): the factory', () => {
  const Schema = v.strictObject({ n: v.number() })

  function appWith(options: Parameters<typeof jsonBody>[1]) {
    let ran = 0
    const app = new Hono<AppEnv>()
    app.post('/', jsonBody(Schema, options), (c) => {
      ran += 1
      return c.json({ body: c.get('body') ?? null })
    })
    app.onError(handleError)
    return { app, ran: () => ran }
  }

  it.each([0, -1, 1.5, Number.NaN])(
    'throws TypeError at construction for maxBytes %s',
    (maxBytes) => {
      expect(() => jsonBody(Schema, { maxBytes })).toThrow(TypeError)
    },
  )

  it('hands the parsed, schema-checked body to the handler', async () => {
    const { app, ran } = appWith({})
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ body: { n: 1 } })
    expect(ran()).toBe(1)
  })

  it('honours a custom maxBytes and never runs the handler past it', async () => {
    const { app, ran } = appWith({ maxBytes: 8 })
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":123}',
    })
    await expectError(res, 413, 'payload_too_large')
    expect(ran()).toBe(0)
  })

  it('admits a missing body as undefined only when optional', async () => {
    const optional = appWith({ optional: true })
    const res = await optional.app.request('/', { method: 'POST' })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ body: null })
    const required = appWith({})
    await expectError(
      await required.app.request('/', { method: 'POST' }),
      415,
      'unsupported_media_type',
    )
    expect(required.ran()).toBe(0)
  })

  it('still checks a body that is present on an optional route', async () => {
    const { app, ran } = appWith({ optional: true })
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":"1"}',
    })
    await expectError(res, 400, 'invalid_request')
    expect(ran()).toBe(0)
  })
})
