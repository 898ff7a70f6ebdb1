import { afterEach, describe, expect, it } from 'vitest'
import {
  cleanup,
  connect,
  envelope,
  refusal,
  startIssuer,
  startServer,
  testKey,
} from '../support.ts'
import { disconnection, record, request, timeline } from '../waits.ts'

afterEach(cleanup)

const nowSeconds = () => Math.floor(Date.now() / 1000)
const revokedThen = (reason: string) => [
  ['rt:error', { code: 'token_revoked', message: expect.any(String) }],
  ['disconnect', reason],
]

async function setUp() {
  const issuer = await startIssuer()
  const second = await testKey()
  issuer.keys.push(second)
  const { server, url } = await startServer(issuer)
  return { issuer, second, server, url }
}

describe('server.revoke', () => {
  it("disconnects every socket of a revoked session with rt:error token_revoked, and leaves the user's other sessions alone", async () => {
    const { issuer, server, url } = await setUp()
    const token = await issuer.mint({ sub: 'u-a', sid: 's-a' })
    const a1 = await connect(url, { auth: { token } })
    const a2 = await connect(url, { auth: { token } })
    const other = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-a', sid: 's-other' }) },
    })
    const [t1, t2] = [timeline(a1), timeline(a2)]
    const otherErrors = record(other, 'rt:error')
    const gone = [disconnection(a1), disconnection(a2)]
    const now = nowSeconds()

    expect(server.revoke({ kind: 'session', id: 's-a', at: now, until: now + 300 })).toBe(2)
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect'])
    expect(t1).toEqual(revokedThen('io server disconnect'))
    expect(t2).toEqual(revokedThen('io server disconnect'))
    expect(await request(other, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
    expect(otherErrors).toEqual([])
    // Until `until`, the session cannot come back with a token it already holds.
    expect(await refusal(url, { auth: { token } })).toMatchObject({ message: 'token_revoked' })
  })

  it('revokes only the tokens of a user issued at or before the event', async () => {
    const { issuer, server, url } = await setUp()
    const now = nowSeconds()
    const oldToken = await issuer.mint({ sub: 'u-a', sid: 's-1', iat: now - 10, nbf: now - 10 })
    const atToken = await issuer.mint({ sub: 'u-a', sid: 's-2', iat: now - 5, nbf: now - 5 })
    const newToken = await issuer.mint({ sub: 'u-a', sid: 's-3', iat: now, nbf: now })
    const old = await connect(url, { auth: { token: oldToken } })
    const atTime = await connect(url, { auth: { token: atToken } })
    const fresh = await connect(url, { auth: { token: newToken } })
    const stranger = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-b', sid: 's-b', iat: now - 10, nbf: now - 10 }) },
    })
    const gone = [disconnection(old), disconnection(atTime)]

    expect(server.revoke({ kind: 'user', id: 'u-a', at: now - 5, until: now + 300 })).toBe(2)
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect'])
    expect(await request(fresh, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({ ok: true })
    expect(await request(stranger, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    expect(await refusal(url, { auth: { token: oldToken } })).toMatchObject({
      message: 'token_revoked',
    })
    await connect(url, { auth: { token: newToken } })
  })

  it('spares a socket that refreshed in-band to a token issued after the user event', async () => {
    const { issuer, server, url } = await setUp()
    const now = nowSeconds()
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-a', iat: now - 10, nbf: now - 10 }) },
    })
    const errors = record(socket, 'rt:error')
    expect(
      await request(
        socket,
        'rt:auth',
        envelope(null, { token: await issuer.mint({ sub: 'u-a', iat: now, nbf: now }) }),
      ),
    ).toMatchObject({ ok: true })
    expect(server.revoke({ kind: 'user', id: 'u-a', at: now - 5, until: now + 300 })).toBe(0)
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    expect(errors).toEqual([])
  })

  it('revokes by kid: sockets whose current token the key signed, including one refreshed onto it', async () => {
    const { issuer, second, server, url } = await setUp()
    const onFirst = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-1', sid: 's-1' }) },
    })
    const onSecond = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-2', sid: 's-2' }, { key: second }) },
    })
    const movedToFirst = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-3', sid: 's-3' }, { key: second }) },
    })
    const movedAway = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-4', sid: 's-4' }) },
    })
    await request(
      movedToFirst,
      'rt:auth',
      envelope(null, { token: await issuer.mint({ sub: 'u-3', sid: 's-3' }) }),
    )
    await request(
      movedAway,
      'rt:auth',
      envelope(null, { token: await issuer.mint({ sub: 'u-4', sid: 's-4' }, { key: second }) }),
    )
    const gone = [disconnection(onFirst), disconnection(movedToFirst)]
    const now = nowSeconds()

    expect(server.revoke({ kind: 'key', id: issuer.key.kid, at: now, until: now + 300 })).toBe(2)
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect'])
    expect(await request(onSecond, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    expect(await request(movedAway, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
  })
})

describe('revocations checked per message', () => {
  it('refuses the next message of a socket whose session was revoked in the set, then disconnects it', async () => {
    const { issuer, server, url } = await setUp()
    const socket = await connect(url, { auth: { token: await issuer.mint({ sid: 's-a' }) } })
    const events = timeline(socket)
    const now = nowSeconds()
    // Recorded without the sweep over sockets, as when the sweep has not reached it yet.
    server.revocations.add({ kind: 'session', id: 's-a', at: now, until: now + 300 }, now)
    const gone = disconnection(socket)
    socket.emit('rt:join', envelope({ room: 'lobby' }, { id: 'after-1' }))
    expect(await gone).toBe('io server disconnect')
    expect(events).toEqual([
      ['rt:error', { id: 'after-1', code: 'token_revoked', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('refuses an in-band token a revocation covers, without making it the connection token', async () => {
    const { issuer, server, url } = await setUp()
    const now = nowSeconds()
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-a', iat: now, nbf: now }) },
    })
    server.revocations.add({ kind: 'user', id: 'u-a', at: now - 5, until: now + 300 }, now)
    const covered = await issuer.mint({ sub: 'u-a', iat: now - 10, nbf: now - 10, exp: now + 900 })
    expect(await request(socket, 'rt:auth', envelope(null, { token: covered }))).toEqual({
      ok: false,
      error: { code: 'token_revoked', message: expect.any(String) },
    })
    // The connection's own token is not covered, so it stays connected.
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
  })

  it('ignores an event already past its until', async () => {
    const { issuer, server, url } = await setUp()
    const now = nowSeconds()
    expect(
      server.revocations.add({ kind: 'session', id: 's-a', at: now - 600, until: now - 1 }, now),
    ).toBe(false)
    const socket = await connect(url, { auth: { token: await issuer.mint({ sid: 's-a' }) } })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
  })
})
