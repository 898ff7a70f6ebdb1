/**
 * DPoP-bound tokens on a realtime node (docs/protocol.md §15): the proof in
 * the handshake's `auth.dpop` and in an in-band envelope's `dpop`, with real
 * socket.io-client connections over real sockets. Tokens are bound with
 * `cnf.jkt` by the test's own issuer; proofs are made with panva's `dpop`
 * (as the SDK makes them) or signed by hand for the hostile cases.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  cleanup,
  client,
  connect,
  envelope,
  refusal,
  startIssuer,
  startServer,
  type TestIssuer,
} from '../support.ts'
import { request, timeline, until } from '../waits.ts'
import {
  dpopKey,
  handKey,
  handProof,
  hmacProof,
  proof,
  unsignedProof,
  ath,
} from '../../support/dpop.ts'

afterEach(cleanup)

const refused = (code: string, extra: Record<string, unknown> = {}) => ({
  ok: false,
  error: { code, message: expect.any(String), ...extra },
})

const NONCE_SECRET = 'a-test-secret-of-at-least-32-characters'

async function node(options: Parameters<typeof startServer>[1] = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer, options)
  return { issuer, server, url, htu: `${url}/socket.io/` }
}

/** A bound token for `key`, and a handshake `auth` proving it. */
async function boundAuth(
  issuer: TestIssuer,
  key: Awaited<ReturnType<typeof dpopKey>>,
  htu: string,
  claims: Record<string, unknown> = {},
) {
  const token = await issuer.mint({ cnf: { jkt: key.jkt }, ...claims })
  return { token, dpop: await proof(key, htu, 'GET', { token }) }
}

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return text.split('\n').filter((line) => line.startsWith(name))
}

describe('the handshake of a DPoP-bound token', () => {
  it('opens with a proof of the bound key, and keeps the key for the connection', async () => {
    const { issuer, url, htu, server } = await node()
    const key = await dpopKey()
    const socket = await connect(url, { auth: await boundAuth(issuer, key, htu) })
    expect(socket.connected).toBe(true)
    const [serverSocket] = await server.io.fetchSockets()
    expect(serverSocket!.data.jkt).toBe(key.jkt)
    expect(await metric(url, 'realtime_dpop_proofs_total')).toContainEqual(
      'realtime_dpop_proofs_total{context="handshake",outcome="ok",reason="ok"} 1',
    )
  })

  it('a bound token without a proof (a stolen token) is refused dpop_required, and counted', async () => {
    const { issuer, url } = await node()
    const key = await dpopKey()
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const { message, data } = await refusal(url, { auth: { token } })
    expect(message).toBe('dpop_required')
    expect(data).toEqual({ code: 'dpop_required', retryable: true, refresh: false })
    expect(await metric(url, 'realtime_dpop_proofs_total')).toContainEqual(
      'realtime_dpop_proofs_total{context="handshake",outcome="dpop_required",reason="dpop_required"} 1',
    )
  })

  it("a bound token with a proof by the thief's own key is refused dpop_invalid", async () => {
    const { issuer, url, htu } = await node()
    const [victim, thief] = [await dpopKey(), await dpopKey()]
    const token = await issuer.mint({ cnf: { jkt: victim.jkt } })
    const dpop = await proof(thief, htu, 'GET', { token })
    expect((await refusal(url, { auth: { token, dpop } })).data).toMatchObject({
      code: 'dpop_invalid',
      retryable: false,
    })
    expect(await metric(url, 'realtime_dpop_proofs_total')).toContainEqual(
      'realtime_dpop_proofs_total{context="handshake",outcome="dpop_invalid",reason="jwk"} 1',
    )
  })

  it('a proof replayed on a second socket is refused dpop_invalid', async () => {
    const { issuer, url, htu } = await node()
    const key = await dpopKey()
    const auth = await boundAuth(issuer, key, htu)
    await connect(url, { auth })
    expect((await refusal(url, { auth })).message).toBe('dpop_invalid')
    expect(await metric(url, 'realtime_dpop_proofs_total')).toContainEqual(
      'realtime_dpop_proofs_total{context="handshake",outcome="dpop_invalid",reason="replayed"} 1',
    )
  })

  it('a bearer token needs no proof, and a proof beside it is ignored', async () => {
    const { issuer, url, htu, server } = await node()
    const token = await issuer.mint()
    await connect(url, { auth: { token } })
    await connect(url, { auth: { token, dpop: await proof(await dpopKey(), htu, 'GET') } })
    for (const socket of await server.io.fetchSockets()) expect(socket.data.jkt).toBeUndefined()
  })

  describe('a proof that fails a check of §15 is refused dpop_invalid', () => {
    const cases: [
      string,
      (
        key: Awaited<ReturnType<typeof handKey>>,
        htu: string,
        token: string,
        other: string,
      ) => Promise<string> | string,
    ][] = [
      ['for another htu', (k, _htu, t) => handProof(k, 'http://127.0.0.1:1/socket.io/', 'GET', t)],
      [
        'for another path',
        (k, htu, t) => handProof(k, htu.replace('/socket.io/', '/api/'), 'GET', t),
      ],
      ['for another htm', (k, htu, t) => handProof(k, htu, 'POST', t)],
      [
        'for another token (ath)',
        (k, htu, t, other) => handProof(k, htu, 'GET', t, { claims: { ath: ath(other) } }),
      ],
      ['without ath', (k, htu, t) => handProof(k, htu, 'GET', t, { claims: { ath: undefined } })],
      ['too old', (k, htu, t) => handProof(k, htu, 'GET', t, { claims: { iat: now() - 120 } })],
      [
        'from the future',
        (k, htu, t) => handProof(k, htu, 'GET', t, { claims: { iat: now() + 120 } }),
      ],
      ['without jti', (k, htu, t) => handProof(k, htu, 'GET', t, { claims: { jti: undefined } })],
      ['of another typ', (k, htu, t) => handProof(k, htu, 'GET', t, { header: { typ: 'JWT' } })],
      [
        'with alg none',
        (k, htu, t) =>
          unsignedProof({ htu, htm: 'GET', jti: 'n-1', iat: now(), ath: ath(t) }, k.publicJwk),
      ],
      [
        'with alg HS256',
        (k, htu, t) =>
          hmacProof(
            { htu, htm: 'GET', jti: 'h-1', iat: now(), ath: ath(t) },
            k.publicJwk,
            'secret',
          ),
      ],
      [
        'with a private key in its jwk',
        (k, htu, t) => handProof(k, htu, 'GET', t, { header: { jwk: k.privateJwk } }),
      ],
      [
        'with a bad signature',
        async (k, htu, t) => {
          const good = await handProof(k, htu, 'GET', t)
          return `${good.slice(0, -4)}${good.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`
        },
      ],
      ['that is not a JWS', () => 'not-a-proof'],
    ]
    it.each(cases)('%s', async (_, make) => {
      const { issuer, url, htu } = await node()
      const key = await handKey()
      const token = await issuer.mint({ cnf: { jkt: key.jkt } })
      const other = await issuer.mint({ cnf: { jkt: key.jkt } })
      const dpop = await make(key, htu, token, other)
      const { message, data } = await refusal(url, { auth: { token, dpop } })
      expect(message).toBe('dpop_invalid')
      expect(data).toEqual({ code: 'dpop_invalid', retryable: false, refresh: false })
    })

    it('a proof that is not a string', async () => {
      const { issuer, url } = await node()
      const token = await issuer.mint({ cnf: { jkt: (await handKey()).jkt } })
      expect((await refusal(url, { auth: { token, dpop: { alg: 'none' } } })).message).toBe(
        'dpop_invalid',
      )
    })
  })

  it("behind a proxy, the proofs name REALTIME_PUBLIC_URL, not the node's own address", async () => {
    const { issuer, url, htu } = await node({ publicUrl: 'https://rt.example.com/' })
    const key = await dpopKey()
    const own = await boundAuth(issuer, key, htu)
    expect((await refusal(url, { auth: own })).message).toBe('dpop_invalid')
    await connect(url, { auth: await boundAuth(issuer, key, 'https://rt.example.com/socket.io/') })
  })
})

describe('socketio-jwt compat mode', () => {
  it('never admits a bound token through authenticate, which carries no proof', async () => {
    const { issuer, url, server } = await node({ socketioJwtCompat: { timeoutMs: 5000 } })
    const key = await dpopKey()
    const socket = client(url)
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const answer = new Promise<unknown>((resolve) => socket.once('unauthorized', resolve))
    socket.emit('authenticate', { token: await issuer.mint({ cnf: { jkt: key.jkt } }) })
    expect(await answer).toMatchObject({
      message: 'the token is bound to a key: send a DPoP proof',
      code: 'invalid_token',
    })
    await until(() => socket.disconnected, { what: 'disconnect' })
    expect((await server.io.fetchSockets()).filter((s) => s.data.auth)).toEqual([])
  })
})

describe("a lone node's replay cache", () => {
  it('is bounded: full of live jtis, it refuses new proofs unavailable (retryable) rather than forget one', async () => {
    const { issuer, url, htu } = await node({ dpop: { replayCacheMaxEntries: 2 } })
    const key = await dpopKey()
    await connect(url, { auth: await boundAuth(issuer, key, htu) })
    await connect(url, { auth: await boundAuth(issuer, key, htu) })
    const full = await refusal(url, { auth: await boundAuth(issuer, key, htu) })
    expect(full.data).toMatchObject({ code: 'unavailable', retryable: true })
    expect(await metric(url, 'realtime_dpop_replay_cache_entries')).toContainEqual(
      'realtime_dpop_replay_cache_entries 2',
    )
    expect(await metric(url, 'realtime_dpop_replay_cache_full_total')).toContainEqual(
      'realtime_dpop_replay_cache_full_total 1',
    )
  })
})

describe('nonces (REALTIME_DPOP_NONCE)', () => {
  it("a proof without the node's nonce is refused with one in data.nonce; a proof with it opens", async () => {
    const { issuer, url, htu } = await node({ dpop: { nonceSecret: NONCE_SECRET } })
    const key = await dpopKey()
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const first = await refusal(url, {
      auth: { token, dpop: await proof(key, htu, 'GET', { token }) },
    })
    expect(first.message).toBe('dpop_nonce_required')
    expect(first.data).toEqual({
      code: 'dpop_nonce_required',
      retryable: true,
      refresh: false,
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    })
    const stale = await proof(key, htu, 'GET', { token, nonce: 'made-up' })
    expect((await refusal(url, { auth: { token, dpop: stale } })).data.nonce).toBe(first.data.nonce)
    const dpop = await proof(key, htu, 'GET', { token, nonce: first.data.nonce })
    expect((await connect(url, { auth: { token, dpop } })).connected).toBe(true)
  })

  it("in band, the ack's error carries the nonce, and the envelope retried with it is taken", async () => {
    const { issuer, url, htu } = await node({ dpop: { nonceSecret: NONCE_SECRET } })
    const key = await dpopKey()
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const { data } = await refusal(url, {
      auth: { token, dpop: await proof(key, htu, 'GET', { token }) },
    })
    const nonce = data.nonce as string
    const socket = await connect(url, {
      auth: { token, dpop: await proof(key, htu, 'GET', { token, nonce }) },
    })
    const next = await issuer.mint({ cnf: { jkt: key.jkt } })
    const without = await proof(key, htu, 'POST', { token: next })
    expect(
      await request(socket, 'rt:auth', envelope(null, { token: next, dpop: without })),
    ).toEqual(refused('dpop_nonce_required', { nonce }))
    const withNonce = await proof(key, htu, 'POST', { token: next, nonce })
    expect(
      await request(socket, 'rt:auth', envelope(null, { token: next, dpop: withNonce })),
    ).toEqual({
      ok: true,
      data: { exp: expect.any(Number) },
    })
  })
})

describe('in-band tokens on a bound connection', () => {
  async function bound(options: Parameters<typeof startServer>[1] = {}) {
    const started = await node(options)
    const key = await dpopKey()
    const socket = await connect(started.url, {
      auth: await boundAuth(started.issuer, key, started.htu),
    })
    return { ...started, key, socket, events: timeline(socket) }
  }

  it('rt:auth with a token bound to the same key and a POST proof is taken', async () => {
    const { issuer, key, htu, socket } = await bound()
    const token = await issuer.mint({
      cnf: { jkt: key.jkt },
      exp: Math.floor(Date.now() / 1000) + 600,
    })
    const dpop = await proof(key, htu, 'POST', { token })
    expect(await request(socket, 'rt:auth', envelope(null, { token, dpop }))).toEqual({
      ok: true,
      data: { exp: expect.any(Number) },
    })
    // `token` on any envelope is in band too.
    const again = await issuer.mint({ cnf: { jkt: key.jkt } })
    const joined = await request(
      socket,
      'rt:join',
      envelope(
        { room: 'lobby' },
        { token: again, dpop: await proof(key, htu, 'POST', { token: again }) },
      ),
    )
    expect(joined).toEqual({ ok: true, data: { room: 'lobby' } })
  })

  it('a bound in-band token without a proof is refused dpop_required and the connection stays', async () => {
    const { issuer, key, socket } = await bound()
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    expect(await request(socket, 'rt:auth', envelope(null, { token }))).toEqual(
      refused('dpop_required'),
    )
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
  })

  it.each([
    ['a GET proof (the handshake method)', 'GET'],
    ['a proof for another token', 'other-token'],
    ['a proof already used on another socket', 'replay'],
  ])('%s is dpop_invalid and closes the connection', async (_, how) => {
    const started = await bound()
    const { issuer, key, htu } = started
    let { socket, events } = started
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    let dpop: string
    if (how === 'GET') dpop = await proof(key, htu, 'GET', { token })
    else if (how === 'other-token')
      dpop = await proof(key, htu, 'POST', { token: await issuer.mint({ cnf: { jkt: key.jkt } }) })
    else {
      dpop = await proof(key, htu, 'POST', { token })
      expect(await request(socket, 'rt:auth', envelope(null, { token, dpop }))).toMatchObject({
        ok: true,
      })
      // The same user's second tab, on the same key: the proof was spent on the first.
      socket = await connect(started.url, { auth: await boundAuth(issuer, key, htu) })
      events = timeline(socket)
    }
    socket.emit('rt:auth', envelope(null, { token, dpop }), (reply: unknown) =>
      events.push(['ack', reply]),
    )
    await until(() => events.some(([name]) => name === 'disconnect'), { what: 'disconnect' })
    expect(events).toEqual([
      ['ack', refused('dpop_invalid')],
      ['rt:error', { code: 'dpop_invalid', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('an unbound (bearer) token in band is token_mismatch and closes the connection', async () => {
    const { issuer, socket, events } = await bound()
    socket.emit('rt:auth', envelope(null, { token: await issuer.mint() }), (reply: unknown) =>
      events.push(['ack', reply]),
    )
    await until(() => events.some(([name]) => name === 'disconnect'), { what: 'disconnect' })
    expect(events).toEqual([
      ['ack', refused('token_mismatch')],
      ['rt:error', { code: 'token_mismatch', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('a token bound to another key, even with its own proof, is token_mismatch', async () => {
    const { issuer, htu, socket } = await bound()
    const other = await dpopKey()
    const token = await issuer.mint({ cnf: { jkt: other.jkt } })
    const dpop = await proof(other, htu, 'POST', { token })
    expect(await request(socket, 'rt:auth', envelope(null, { token, dpop }))).toEqual(
      refused('token_mismatch'),
    )
  })
})

describe('in-band tokens on a bearer connection', () => {
  it('a bound token in band is token_mismatch (the connection has no key to match)', async () => {
    const { issuer, url, htu } = await node()
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    const key = await dpopKey()
    const token = await issuer.mint({ cnf: { jkt: key.jkt } })
    const dpop = await proof(key, htu, 'POST', { token })
    expect(await request(socket, 'rt:auth', envelope(null, { token, dpop }))).toEqual(
      refused('token_mismatch'),
    )
  })
})

function now(): number {
  return Math.floor(Date.now() / 1000)
}
