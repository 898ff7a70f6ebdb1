import { generateKeyPairSync } from 'node:crypto'
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CompactJWSHeaderParameters,
  type CryptoKey as JoseCryptoKey,
  type JWK,
} from 'jose'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { createKeySet, type KeySet, type KeySetOptions } from '../../../shared/jwks/key-set.ts'
import { verifyAccessToken } from '../../../shared/verify-access-token.ts'

const JWKS_URL = 'https://edge.example/.well-known/jwks.json'
const ISSUER = 'https://edge.example'
const T0 = 1_700_000_000_000
const TOKEN = { payload: '', signature: '' }

interface Signer {
  kid: string
  jwk: JWK
  privateKey: JoseCryptoKey
}

async function es256(kid: string): Promise<Signer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
  return {
    kid,
    privateKey,
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  }
}

function rsaJwk(kid: string, modulusLength: number): JWK {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength })
  return { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: 'RS256', use: 'sig' }
}

interface Call {
  url: string
  ifNoneMatch: string | null
  init: RequestInit | undefined
}

/** The edge's JWKS endpoint, behind an injected fetch that records every call. */
interface FakeEdge {
  keys: JWK[]
  etag: string
  cacheControl: string | null
  age: string | undefined
  /** When set, every response has this status and no body. */
  status: number | undefined
  /** One-shot responders, used before the default behaviour. */
  queue: Array<() => Response | Promise<Response>>
  /** When set, responses wait for it: a fetch stays in flight until the test opens the gate. */
  gate: Promise<void> | undefined
  calls: Call[]
  fetch: typeof globalThis.fetch
}

function fakeEdge(keys: JWK[]): FakeEdge {
  const edge: FakeEdge = {
    keys,
    etag: '"v1"',
    cacheControl: 'public, max-age=300',
    age: undefined,
    status: undefined,
    queue: [],
    gate: undefined,
    calls: [],
    fetch: async (input, init) => {
      const ifNoneMatch = new Headers(init?.headers).get('if-none-match')
      edge.calls.push({ url: String(input), ifNoneMatch, init })
      await edge.gate
      const next = edge.queue.shift()
      if (next) return next()
      if (edge.status !== undefined) return new Response(null, { status: edge.status })
      const headers = new Headers({ 'content-type': 'application/json', etag: edge.etag })
      if (edge.cacheControl !== null) headers.set('cache-control', edge.cacheControl)
      if (edge.age !== undefined) headers.set('age', edge.age)
      if (ifNoneMatch === edge.etag) return new Response(null, { status: 304, headers })
      return new Response(JSON.stringify({ keys: edge.keys }), { status: 200, headers })
    },
  }
  return edge
}

function deferred<T>() {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

async function keyFor(keySet: KeySet, header: Record<string, unknown>): Promise<unknown> {
  return keySet.getKey(header as CompactJWSHeaderParameters, TOKEN)
}

const code = (c: string) => expect.objectContaining({ name: 'AppError', code: c })

let t = T0
const now = () => t
let k1: Signer
let k2: Signer
let attacker: Signer
let edge: FakeEdge

function keySetFor(e = edge, options: Partial<KeySetOptions> = {}): KeySet {
  return createKeySet({ jwksUrl: JWKS_URL, issuer: ISSUER, fetch: e.fetch, now, ...options })
}

/** The edge publishes k2 beside k1, under a new ETag. */
function publishK2(): void {
  edge.keys = [k1.jwk, k2.jwk]
  edge.etag = '"v2"'
}

/**
 * At T0 + 1, ask for an unknown `kid`: its refetch (the edge's second call)
 * finds nothing, it is token_invalid, and the unknown-kid cooldown runs from then.
 */
async function missAtT0Plus1(keySet: KeySet, kid = 'nope'): Promise<void> {
  t = T0 + 1
  await expect(keyFor(keySet, { alg: 'ES256', kid })).rejects.toEqual(code('token_invalid'))
  expect(edge.calls).toHaveLength(2)
}

beforeAll(async () => {
  ;[k1, k2, attacker] = await Promise.all([es256('k1'), es256('k2'), es256('k1')])
})

beforeEach(() => {
  t = T0
  edge = fakeEdge([k1.jwk])
})

afterEach(() => {
  vi.useRealTimers()
})

describe('createKeySet options', () => {
  it.each<[string, Partial<KeySetOptions>]>([
    ['a relative URL', { jwksUrl: '/.well-known/jwks.json' }],
    ['a non-http URL', { jwksUrl: 'file:///etc/jwks.json' }],
    ['an empty issuer', { issuer: '' }],
    ['a negative cooldown', { cooldownMs: -1 }],
    ['a NaN timeout', { timeoutMs: Number.NaN }],
    ['min max-age above max max-age', { minMaxAgeMs: 10, maxMaxAgeMs: 5 }],
    ['an empty allow-list', { algorithms: [] }],
    ['an HMAC in the allow-list', { algorithms: ['HS256' as 'ES256'] }],
    ['none in the allow-list', { algorithms: ['none' as 'ES256'] }],
  ])('throws TypeError at construction for %s', (_, bad) => {
    expect(() => keySetFor(edge, bad)).toThrow(TypeError)
  })
})

describe('loading', () => {
  it('load fetches only the configured URL and holds its kids and algorithms', async () => {
    const keySet = keySetFor()
    expect(keySet.isReady()).toBe(false)
    await keySet.load()
    expect(keySet.isReady()).toBe(true)
    expect(keySet.kids()).toEqual(['k1'])
    expect(keySet.algorithms()).toEqual(['ES256'])
    expect(edge.calls).toHaveLength(1)
    expect(edge.calls[0]).toMatchObject({ url: JWKS_URL, ifNoneMatch: null })
    expect(edge.calls[0]?.init?.redirect).toBe('manual')
  })

  it('load rejects with unavailable when the edge is down, and a later load retries at once', async () => {
    edge.status = 503
    const keySet = keySetFor()
    await expect(keySet.load()).rejects.toEqual(code('unavailable'))
    expect(keySet.isReady()).toBe(false)
    edge.status = undefined
    await keySet.load()
    expect(keySet.isReady()).toBe(true)
    expect(edge.calls).toHaveLength(2)
  })

  it('concurrent getKey calls that need a fetch cause exactly one fetch', async () => {
    const response = deferred<Response>()
    edge.queue.push(() => response.promise)
    const keySet = keySetFor()
    const pending = [
      keySet.load(),
      ...Array.from({ length: 50 }, () => keyFor(keySet, { alg: 'ES256', kid: 'k1' })),
    ]
    response.resolve(
      new Response(JSON.stringify({ keys: [k1.jwk] }), { headers: { etag: '"v1"' } }),
    )
    const [, ...keys] = await Promise.all(pending)
    expect(edge.calls).toHaveLength(1)
    expect(new Set(keys).size).toBe(1)
  })
})

describe('caching and revalidation', () => {
  it.each<[string, string | null, string | undefined, number]>([
    ['max-age within bounds', 'public, max-age=120', undefined, 120_000],
    ['max-age minus Age', 'public, max-age=120', '20', 100_000],
    ['a 1 s max-age (the smallest the edge allows)', 'max-age=1', undefined, 1_000],
    ['max-age below the floor', 'max-age=0', undefined, 1_000],
    ['max-age above the ceiling', 'max-age=999999', undefined, 3_600_000],
    ['no-store', 'no-store', undefined, 1_000],
    ['no Cache-Control', null, undefined, 300_000],
    ['no max-age directive', 'public', undefined, 300_000],
    ['an unparsable max-age', 'max-age=soon', undefined, 300_000],
  ])(
    'honours %s: fresh for the clamped time, then revalidates',
    async (_, cacheControl, age, freshMs) => {
      edge.cacheControl = cacheControl
      edge.age = age
      const keySet = keySetFor()
      await keySet.load()
      t = T0 + freshMs - 1
      await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
      expect(edge.calls).toHaveLength(1)
      t = T0 + freshMs
      await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
      expect(edge.calls).toHaveLength(2)
    },
  )

  it('after max-age revalidates with If-None-Match; a 304 keeps the keys and restarts the max-age clock', async () => {
    const keySet = keySetFor()
    await keySet.load()
    const before = await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    const gate = deferred<void>()
    edge.gate = gate.promise
    t = T0 + 300_000
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1' })).toBe(before)
    const joined = keySet.load() // joins the revalidation in flight
    gate.resolve()
    await joined
    expect(edge.calls).toHaveLength(2)
    expect(edge.calls[1]?.ifNoneMatch).toBe('"v1"')
    expect(keySet.kids()).toEqual(['k1'])
    t = T0 + 600_000 - 1
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1' })).toBe(before)
    expect(edge.calls).toHaveLength(2)
    t = T0 + 600_000
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    expect(edge.calls).toHaveLength(3)
  })

  it('a 200 on revalidation replaces the key set', async () => {
    const keySet = keySetFor()
    await keySet.load()
    edge.keys = [k2.jwk]
    edge.etag = '"v2"'
    const gate = deferred<void>()
    edge.gate = gate.promise
    t = T0 + 300_000
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    const joined = keySet.load() // joins the revalidation in flight
    gate.resolve()
    await joined
    expect(edge.calls).toHaveLength(2)
    expect(keySet.kids()).toEqual(['k2'])
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('token_invalid'))
  })

  it('while a revalidation is in flight, known keys keep working without waiting for it', async () => {
    const keySet = keySetFor()
    await keySet.load()
    const before = await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    const response = deferred<Response>()
    edge.queue.push(() => response.promise)
    t = T0 + 300_000
    const keys = await Promise.all(
      Array.from({ length: 20 }, () => keyFor(keySet, { alg: 'ES256', kid: 'k1' })),
    )
    expect(keys.every((k) => k === before)).toBe(true)
    expect(edge.calls).toHaveLength(2)
    const joined = keySet.load()
    response.resolve(
      new Response(null, { status: 304, headers: { 'cache-control': 'max-age=300' } }),
    )
    await joined
    expect(edge.calls).toHaveLength(2)
  })

  it('when revalidation fails, known keys keep working until maxStaleMs past expiry, then unavailable', async () => {
    const keySet = keySetFor()
    await keySet.load()
    edge.status = 503
    t = T0 + 300_000
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    await expect(keySet.load()).rejects.toEqual(code('unavailable'))
    t = T0 + 300_000 + 3_600_000 - 1
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    expect(keySet.isReady()).toBe(true)
    t = T0 + 300_000 + 3_600_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('unavailable'))
    expect(keySet.isReady()).toBe(false)
    edge.status = undefined
    t += 30_000
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    expect(keySet.isReady()).toBe(true)
  })

  it('after a failed fetch, getKey retries only once the cooldown has passed', async () => {
    edge.status = 503
    const keySet = keySetFor()
    for (let i = 0; i < 10; i++) {
      await expect(keyFor(keySet, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('unavailable'))
    }
    expect(edge.calls).toHaveLength(1)
    t = T0 + 29_999
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('unavailable'))
    expect(edge.calls).toHaveLength(1)
    edge.status = undefined
    t = T0 + 30_000
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    expect(edge.calls).toHaveLength(2)
  })

  it.each<[string, () => Response | Promise<Response>, number | undefined]>([
    ['HTTP 500', () => new Response('oops', { status: 500 }), 500],
    ['HTTP 404', () => new Response(null, { status: 404 }), 404],
    [
      'a redirect',
      () => new Response(null, { status: 302, headers: { location: 'https://evil.example/' } }),
      302,
    ],
    ['a body that is not JSON', () => new Response('<html>', { status: 200 }), 200],
    ['JSON that is not a JWKS', () => Response.json({ keys: 'nope' }), 200],
    ['a JWKS with no usable key', () => Response.json({ keys: [{ ...k2.jwk, use: 'enc' }] }), 200],
    ['an oversized body', () => new Response('x'.repeat(300_000), { status: 200 }), 200],
    ['a network error', () => Promise.reject(new TypeError('fetch failed')), undefined],
  ])('%s counts as a failed fetch and keeps the last good keys', async (_, respond, status) => {
    const outcomes: unknown[] = []
    const keySet = keySetFor(edge, { onFetch: (...args) => outcomes.push(args) })
    await keySet.load()
    const before = await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    edge.queue.push(respond)
    await expect(keySet.load()).rejects.toEqual(code('unavailable'))
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1' })).toBe(before)
    expect(keySet.kids()).toEqual(['k1'])
    expect(outcomes.at(-1)).toEqual([
      'error',
      { ...(status !== undefined && { status }), error: expect.any(String) },
    ])
  })

  it('imported CryptoKeys are cached per kid, also across a 200 that republishes the same key', async () => {
    const keySet = keySetFor()
    await keySet.load()
    const first = await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    expect(first).toBeInstanceOf(CryptoKey)
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1' })).toBe(first)
    publishK2()
    await keySet.load()
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1' })).toBe(first)
    edge.keys = [{ ...attacker.jwk, kid: 'k1' }]
    edge.etag = '"v3"'
    await keySet.load()
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1' })).not.toBe(first)
  })

  it('reports every fetch outcome to onFetch, and a throwing onFetch does not break loading', async () => {
    const outcomes: unknown[] = []
    const keySet = keySetFor(edge, { onFetch: (...args) => outcomes.push(args) })
    await keySet.load()
    await keySet.load()
    edge.status = 503
    await keySet.load().catch(() => {})
    expect(outcomes).toEqual([
      ['ok', { status: 200 }],
      ['not_modified', { status: 304 }],
      ['error', { status: 503, error: 'JWKS answered HTTP 503' }],
    ])
    edge.status = undefined
    const throwing = keySetFor(edge, {
      onFetch: () => {
        throw new Error('metrics down')
      },
    })
    await throwing.load()
    expect(throwing.isReady()).toBe(true)
  })
})

describe('unknown kids', () => {
  it('an unknown kid refetches once and, still unknown, is token_invalid', async () => {
    const keySet = keySetFor()
    await keySet.load()
    t = T0 + 30_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'nope' })).rejects.toEqual(
      code('token_invalid'),
    )
    expect(edge.calls).toHaveLength(2)
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'nope' })).rejects.toEqual(
      code('token_invalid'),
    )
    expect(edge.calls).toHaveLength(2)
  })

  it('a key published since the last fetch is learnt at its first use, even right after a routine fetch', async () => {
    const keySet = keySetFor()
    await keySet.load()
    publishK2()
    t = T0 + 10_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k2' })).resolves.toBeInstanceOf(CryptoKey)
    expect(edge.calls).toHaveLength(2)
    expect(edge.calls[1]?.ifNoneMatch).toBe('"v1"')
  })

  it('after an unknown-kid refetch, the next one waits out the cooldown', async () => {
    const keySet = keySetFor()
    await keySet.load()
    await missAtT0Plus1(keySet)
    publishK2()
    t = T0 + 10_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k2' })).rejects.toEqual(code('token_invalid'))
    expect(edge.calls).toHaveLength(2)
    t = T0 + 1 + 30_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k2' })).resolves.toBeInstanceOf(CryptoKey)
    expect(edge.calls).toHaveLength(3)
  })

  it('a flood of 1000 unknown kids inside the cooldown causes at most one fetch', async () => {
    const keySet = keySetFor()
    await keySet.load()
    t = T0 + 30_000
    const random = () => ({ alg: 'ES256', kid: crypto.randomUUID() })
    const concurrent = await Promise.allSettled(
      Array.from({ length: 1000 }, () => keyFor(keySet, random())),
    )
    expect(
      concurrent.every((r) => r.status === 'rejected' && r.reason.code === 'token_invalid'),
    ).toBe(true)
    expect(edge.calls).toHaveLength(2)
    for (let i = 0; i < 1000; i++) {
      t += 29
      await expect(keyFor(keySet, random())).rejects.toEqual(code('token_invalid'))
    }
    expect(edge.calls).toHaveLength(2)
    t += 30_000
    await expect(keyFor(keySet, random())).rejects.toEqual(code('token_invalid'))
    expect(edge.calls).toHaveLength(3)
    expect(edge.calls.every((c) => c.url === JWKS_URL)).toBe(true)
  })

  it('an unknown kid while the edge is unreachable is unavailable, with or without cached keys', async () => {
    edge.status = 503
    const empty = keySetFor()
    await expect(keyFor(empty, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('unavailable'))
    edge.status = undefined
    const cached = keySetFor()
    await cached.load()
    edge.status = 503
    t = T0 + 30_000
    await expect(keyFor(cached, { alg: 'ES256', kid: 'nope' })).rejects.toEqual(code('unavailable'))
    expect(await keyFor(cached, { alg: 'ES256', kid: 'k1' })).toBeInstanceOf(CryptoKey)
  })
})

describe('rotation (issue 14: a short max-age, routine refetches, key events)', () => {
  it('a routine revalidation at a 5 s max-age does not hold back the refetch for a key it just missed', async () => {
    edge.cacheControl = 'public, max-age=5'
    const keySet = keySetFor()
    await keySet.load()
    // The routine revalidation runs just before the edge publishes the next key.
    t = T0 + 5_000
    await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    expect(edge.calls).toHaveLength(2)
    await new Promise((resolve) => setImmediate(resolve)) // let the background revalidation finish
    publishK2()
    t = T0 + 6_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k2' })).resolves.toBeInstanceOf(CryptoKey)
    expect(edge.calls).toHaveLength(3)
  })

  it('honours a 2 s max-age: the keys are revalidated once it passes, before a key published meanwhile signs', async () => {
    edge.cacheControl = 'public, max-age=2'
    const keySet = keySetFor()
    await keySet.load()
    publishK2()
    t = T0 + 2_000
    expect(keySet.peek('k1')).toBeDefined() // serves k1 and revalidates in the background
    expect(edge.calls).toHaveLength(2)
    // Bounded generously (vi.waitFor's default is 1 s): the background revalidation imports the keys.
    await vi.waitFor(() => expect(keySet.peek('k2')?.alg).toBe('ES256'), { timeout: 10_000 })
    expect(edge.calls).toHaveLength(2)
  })

  it('refetch() fetches at once, inside every cooldown, and calls during a fetch in flight share one fetch after it', async () => {
    const keySet = keySetFor()
    await keySet.load()
    await missAtT0Plus1(keySet)
    edge.keys = [k2.jwk]
    edge.etag = '"v2"'
    const gate = deferred<void>()
    edge.gate = gate.promise
    const first = keySet.refetch()
    const second = keySet.refetch()
    const third = keySet.refetch()
    gate.resolve()
    await Promise.all([first, second, third])
    // One fetch for the first call, one shared by the calls made while it was in flight.
    expect(edge.calls).toHaveLength(4)
    expect(keySet.kids()).toEqual(['k2'])
  })

  it('refetch() rejects with unavailable when the edge is down, and keeps the keys held', async () => {
    const keySet = keySetFor()
    await keySet.load()
    edge.status = 503
    await expect(keySet.refetch()).rejects.toEqual(code('unavailable'))
    expect(keySet.kids()).toEqual(['k1'])
  })

  it('a resolver with its own cooldown is not starved by unknown kids on getKey, and is itself bounded', async () => {
    const keySet = keySetFor()
    const push = keySet.resolver({ cooldownMs: 1_000 })
    await keySet.load()
    await missAtT0Plus1(keySet, 'made-up')
    publishK2()
    t = T0 + 2
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k2' })).rejects.toEqual(code('token_invalid'))
    await expect(push({ alg: 'ES256', kid: 'k2' }, TOKEN)).resolves.toBeInstanceOf(CryptoKey)
    expect(edge.calls).toHaveLength(3)
    const pushes = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => push({ alg: 'ES256', kid: `forged-${i}` }, TOKEN)),
    )
    expect(pushes.every((r) => r.status === 'rejected')).toBe(true)
    expect(edge.calls).toHaveLength(3) // inside the push resolver's cooldown since the last one
    t = T0 + 2 + 1_000
    await expect(push({ alg: 'ES256', kid: 'forged' }, TOKEN)).rejects.toEqual(
      code('token_invalid'),
    )
    expect(edge.calls).toHaveLength(4)
  })

  it('peek answers synchronously from the held keys, undefined for an unknown kid, and never fetches for one', async () => {
    const keySet = keySetFor()
    expect(keySet.peek('k1')).toBeUndefined()
    await keySet.load()
    expect(keySet.peek('k1')?.alg).toBe('ES256')
    expect(keySet.peek('nope')).toBeUndefined()
    expect(edge.calls).toHaveLength(1)
  })

  it('holds only the algorithms its issuer is allowed, and imports each key once with importNative', async () => {
    const imported: string[] = []
    edge.keys = [k1.jwk, { ...rsaJwk('r1', 2048), alg: 'PS256' }, rsaJwk('r2', 2048)]
    const keySet = keySetFor(edge, {
      algorithms: ['ES256', 'PS256'],
      importNative: (_jwk, alg) => {
        imported.push(alg)
        return { alg }
      },
    })
    await keySet.load()
    expect(keySet.allowedAlgorithms).toEqual(['ES256', 'PS256'])
    expect(keySet.kids().sort()).toEqual(['k1', 'r1'])
    expect(keySet.peek('r1')?.native).toEqual({ alg: 'PS256' })
    edge.etag = '"v2"'
    await keySet.refetch()
    expect(imported.sort()).toEqual(['ES256', 'PS256'])
  })
})

describe('key selection', () => {
  it.each<[string, unknown]>([
    ['a number', 123],
    ['null', null],
    ['an object', { toString: 'k1' }],
    ['an array', ['k1']],
    ['an empty string', ''],
    ['absent', undefined],
  ])('a non-string kid (%s) must not bypass key selection', async (_, kid) => {
    const keySet = keySetFor()
    await expect(keyFor(keySet, { alg: 'ES256', kid })).rejects.toEqual(code('token_malformed'))
    expect(edge.calls).toHaveLength(0)
  })

  it.each(['ES384', 'RS256', 'EdDSA', 'HS256', 'none'])(
    'a header alg %s that differs from the key alg is token_invalid',
    async (alg) => {
      const keySet = keySetFor()
      await expect(keyFor(keySet, { alg, kid: 'k1' })).rejects.toEqual(code('token_invalid'))
    },
  )

  it('a missing header alg is token_malformed', async () => {
    await expect(keyFor(keySetFor(), { kid: 'k1' })).rejects.toEqual(code('token_malformed'))
  })

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])(
    'a kid named %s is not a key',
    async (kid) => {
      const keySet = keySetFor()
      await keySet.load()
      await expect(keyFor(keySet, { alg: 'ES256', kid })).rejects.toEqual(code('token_invalid'))
    },
  )

  it('jku, x5u, jwk and x5c headers are never fetched nor used', async () => {
    const keySet = keySetFor()
    await keySet.load()
    const configured = await keyFor(keySet, { alg: 'ES256', kid: 'k1' })
    const hostile = {
      jku: 'https://evil.example/jwks.json',
      x5u: 'https://evil.example/cert.pem',
      jwk: { ...attacker.jwk, kid: 'k1' },
      x5c: ['MIIB'],
    }
    expect(await keyFor(keySet, { alg: 'ES256', kid: 'k1', ...hostile })).toBe(configured)

    const claims = {
      sub: 'u1',
      sid: 's1',
      name: 'mallory',
      scope: 'chat:write',
      rooms: ['*'],
      jti: 'j1',
    }
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k1', ...hostile })
      .setIssuer(ISSUER)
      .setAudience('realtime')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .sign(attacker.privateKey)
    const options = { issuer: ISSUER, audience: 'realtime' }
    await expect(verifyAccessToken(forged, keySet.getKey, options)).rejects.toEqual(
      code('token_invalid'),
    )
    t = T0 + 30_000
    const unknownKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'evil', ...hostile })
      .setIssuer(ISSUER)
      .setAudience('realtime')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(attacker.privateKey)
    await expect(verifyAccessToken(unknownKid, keySet.getKey, options)).rejects.toEqual(
      code('token_invalid'),
    )
    expect(edge.calls.length).toBeGreaterThan(0)
    expect(edge.calls.every((c) => c.url === JWKS_URL)).toBe(true)
  })

  it('two key sets never share keys', async () => {
    const otherUrl = 'https://other.example/.well-known/jwks.json'
    const otherEdge = fakeEdge([k2.jwk])
    const a = keySetFor()
    const b = createKeySet({
      jwksUrl: otherUrl,
      issuer: 'https://other.example',
      fetch: otherEdge.fetch,
      now,
    })
    await Promise.all([a.load(), b.load()])
    t = T0 + 30_000
    await expect(keyFor(b, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('token_invalid'))
    await expect(keyFor(a, { alg: 'ES256', kid: 'k2' })).rejects.toEqual(code('token_invalid'))
    expect(a.kids()).toEqual(['k1'])
    expect(b.kids()).toEqual(['k2'])
    expect(edge.calls.every((c) => c.url === JWKS_URL)).toBe(true)
    expect(otherEdge.calls.every((c) => c.url === otherUrl)).toBe(true)
  })
})

describe('parsing the JWKS', () => {
  it('refuses a JWKS body over 256 KiB as unavailable while it streams, with or without a declared length', async () => {
    const padding = 'x'.repeat(300 * 1024)
    let chunksRead = 0
    const oversized =
      (declare: boolean): typeof fetch =>
      async () => {
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            // Endless: a reader that did not stop at the limit would never finish.
            chunksRead++
            controller.enqueue(new TextEncoder().encode(padding.slice(0, 64 * 1024)))
          },
        })
        const headers: Record<string, string> = { 'content-type': 'application/json' }
        if (declare) headers['content-length'] = String(padding.length)
        return new Response(stream, { status: 200, headers })
      }
    for (const declare of [true, false]) {
      chunksRead = 0
      const keySet = createKeySet({
        jwksUrl: JWKS_URL,
        issuer: ISSUER,
        fetch: oversized(declare),
        now,
      })
      await expect(keySet.load()).rejects.toEqual(code('unavailable'))
      // A declared length is refused before reading; a streamed one just past the limit.
      expect(chunksRead).toBeLessThanOrEqual(declare ? 1 : 6)
      keySet.close()
    }
  })

  const good = () => k1.jwk
  const without = (jwk: JWK, member: keyof JWK) =>
    Object.fromEntries(Object.entries(jwk).filter(([m]) => m !== member))
  let rsa1024: JWK
  let rsa2048: JWK
  let ed25519: JWK

  beforeAll(async () => {
    rsa1024 = rsaJwk('bad', 1024)
    rsa2048 = rsaJwk('rsa', 2048)
    const { publicKey } = await generateKeyPair('Ed25519')
    ed25519 = { ...(await exportJWK(publicKey)), kid: 'ed', alg: 'EdDSA', use: 'sig' }
  })

  it.each<[string, () => unknown]>([
    ['a missing kid', () => without(k2.jwk, 'kid')],
    ['a missing alg', () => ({ ...without(k2.jwk, 'alg'), kid: 'bad' })],
    ['use "enc"', () => ({ ...k2.jwk, kid: 'bad', use: 'enc' })],
    ['key_ops without "verify"', () => ({ ...k2.jwk, kid: 'bad', key_ops: ['encrypt'] })],
    ['alg ES384 on a P-256 key', () => ({ ...k2.jwk, kid: 'bad', alg: 'ES384' })],
    ['alg none', () => ({ ...k2.jwk, kid: 'bad', alg: 'none' })],
    ['an HMAC key', () => ({ kty: 'oct', kid: 'bad', alg: 'HS256', use: 'sig', k: 'c2VjcmV0' })],
    ['a kty that does not match the alg', () => ({ ...k2.jwk, kid: 'bad', kty: 'RSA' })],
    ['a point that is not on the curve', () => ({ ...k2.jwk, kid: 'bad', x: k1.jwk.x })],
    ['an RSA modulus under 2048 bits', () => rsa1024],
    ...['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].map<[string, () => unknown]>((m) => [
      `a private member "${m}"`,
      () => ({ ...k2.jwk, kid: 'bad', [m]: 'AAAA' }),
    ]),
    ['a string', () => 'bad'],
    ['null', () => null],
  ])('skips a key with %s and keeps the usable ones', async (_, bad) => {
    edge.keys = [bad() as JWK, good()]
    const keySet = keySetFor()
    await keySet.load()
    expect(keySet.kids()).toEqual(['k1'])
    expect(keySet.algorithms()).toEqual(['ES256'])
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'bad' })).rejects.toEqual(
      code('token_invalid'),
    )
  })

  it('accepts ES256, EdDSA and 2048-bit RS256 keys, and the allow-list never holds none or HMAC', async () => {
    edge.keys = [k1.jwk, ed25519, rsa2048, { kty: 'oct', kid: 'h', alg: 'HS256', k: 'c2VjcmV0' }]
    const keySet = keySetFor()
    await keySet.load()
    expect(keySet.kids().sort()).toEqual(['ed', 'k1', 'rsa'])
    expect(keySet.algorithms().sort()).toEqual(['ES256', 'EdDSA', 'RS256'])
    expect(await keyFor(keySet, { alg: 'RS256', kid: 'rsa' })).toBeInstanceOf(CryptoKey)
    expect(await keyFor(keySet, { alg: 'EdDSA', kid: 'ed' })).toBeInstanceOf(CryptoKey)
  })

  it('drops a kid that appears twice as ambiguous', async () => {
    edge.keys = [k1.jwk, { ...k2.jwk, kid: 'dup' }, { ...attacker.jwk, kid: 'dup' }]
    const keySet = keySetFor()
    await keySet.load()
    expect(keySet.kids()).toEqual(['k1'])
  })
})

describe('timers and close', () => {
  it('a fetch that hangs is aborted after timeoutMs, leaving no timer behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    edge.queue.push(() => new Promise<Response>(() => {}))
    const keySet = keySetFor(edge, { timeoutMs: 5_000 })
    const loading = expect(keySet.load()).rejects.toEqual(code('unavailable'))
    expect(vi.getTimerCount()).toBe(1)
    await vi.advanceTimersByTimeAsync(5_000)
    await loading
    expect(vi.getTimerCount()).toBe(0)
    expect(edge.calls[0]?.init?.signal?.aborted).toBe(true)
  })

  it('no timer remains after a successful or a failed fetch', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const keySet = keySetFor()
    await keySet.load()
    expect(vi.getTimerCount()).toBe(0)
    edge.status = 503
    await keySet.load().catch(() => {})
    expect(vi.getTimerCount()).toBe(0)
  })

  it('close aborts a fetch in flight, clears its timer, and afterwards nothing is fetched', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const keySet = keySetFor()
    await keySet.load()
    edge.queue.push(() => new Promise<Response>(() => {}))
    const loading = keySet.load()
    keySet.close()
    await expect(loading).rejects.toEqual(code('unavailable'))
    expect(vi.getTimerCount()).toBe(0)
    expect(keySet.isReady()).toBe(false)
    expect(keySet.kids()).toEqual([])
    await expect(keySet.load()).rejects.toEqual(code('unavailable'))
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'k1' })).rejects.toEqual(code('unavailable'))
    t = T0 + 10 * 3_600_000
    await expect(keyFor(keySet, { alg: 'ES256', kid: 'nope' })).rejects.toEqual(code('unavailable'))
    expect(edge.calls).toHaveLength(2)
  })
})

describe('end to end with verifyAccessToken', () => {
  it('verifies a real ES256 access token through keySet.getKey, and refuses one signed by another key', async () => {
    edge.keys = [k1.jwk, k2.jwk]
    const keySet = keySetFor()
    await keySet.load()
    const accessToken = (privateKey: JoseCryptoKey) =>
      new SignJWT({ name: 'alice', sid: 'sess-1', scope: 'chat:write', rooms: ['lobby', 'team:*'] })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'k2' })
        .setIssuer(ISSUER)
        .setAudience('realtime')
        .setSubject('user-1')
        .setJti('jti-1')
        .setIssuedAt()
        .setNotBefore('0s')
        .setExpirationTime('5m')
        .sign(privateKey)
    const options = { issuer: ISSUER, audience: 'realtime', algorithms: keySet.algorithms() }

    const { claims, kid } = await verifyAccessToken(
      await accessToken(k2.privateKey),
      keySet.getKey,
      options,
    )
    expect(kid).toBe('k2')
    expect(claims).toMatchObject({
      iss: ISSUER,
      sub: 'user-1',
      sid: 'sess-1',
      name: 'alice',
      rooms: ['lobby', 'team:*'],
    })

    const forged = await accessToken(attacker.privateKey)
    await expect(verifyAccessToken(forged, keySet.getKey, options)).rejects.toEqual(
      code('token_invalid'),
    )
    expect(edge.calls).toHaveLength(1)
  })
})
