/**
 * Room grants at `rt:join` (docs/protocol.md §11) over real sockets: the
 * grant is checked against the edge's keys with `typ` `room+jwt` only,
 * bound to the connection's `sub` and `sid`, its room list, and the
 * issuing client's revocation.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  cleanup,
  connect,
  envelope,
  refusal,
  startIssuer,
  startServer,
  type TestIssuer,
} from '../support.ts'
import { disconnection, request } from '../waits.ts'

afterEach(cleanup)

const refused = (code: string) => ({ ok: false, error: { code, message: expect.any(String) } })
const GRANT = { typ: 'room+jwt' }

/** A grant for user-1 / session-1 from client c-1 for doc:42, with overrides. */
function mintGrant(
  issuer: TestIssuer,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = GRANT,
) {
  return issuer.mint(
    {
      name: undefined,
      scope: undefined,
      nbf: undefined,
      rooms: ['doc:42'],
      client_id: 'c-1',
      ...claims,
    },
    { header },
  )
}

async function setUp(claims: Record<string, unknown> = {}) {
  const issuer = await startIssuer()
  const { server, url } = await startServer(issuer)
  const socket = await connect(url, { auth: { token: await issuer.mint(claims) } })
  const rooms = () => server.io.of('/').sockets.get(socket.id!)!.rooms
  const join = async (room: string, grant?: string) =>
    request(socket, 'rt:join', envelope(grant === undefined ? { room } : { room, grant }))
  return { issuer, server, url, socket, rooms, join }
}

describe('rt:join with a room grant', () => {
  it('joins a room outside the rooms claim with a grant for it, and may then send there', async () => {
    const { issuer, socket, rooms, join } = await setUp()
    expect(await join('doc:42')).toEqual(refused('forbidden'))
    expect(await join('doc:42', await mintGrant(issuer))).toEqual({
      ok: true,
      data: { room: 'doc:42' },
    })
    expect(rooms().has('doc:42')).toBe(true)
    expect(
      await request(socket, 'chat:send', envelope({ room: 'doc:42', text: 'hi' })),
    ).toMatchObject({ ok: true })
  })

  it('a grant without sid serves every session of its user', async () => {
    const { issuer, join } = await setUp({ sid: 'session-2' })
    expect(await join('doc:42', await mintGrant(issuer, { sid: undefined }))).toMatchObject({
      ok: true,
    })
  })

  it("refuses another user's grant with token_mismatch", async () => {
    const { issuer, rooms, join } = await setUp()
    expect(await join('doc:42', await mintGrant(issuer, { sub: 'user-2' }))).toEqual(
      refused('token_mismatch'),
    )
    expect(rooms().has('doc:42')).toBe(false)
  })

  it('refuses a grant bound to another session with token_mismatch', async () => {
    const { issuer, rooms, join } = await setUp()
    expect(await join('doc:42', await mintGrant(issuer, { sid: 'session-2' }))).toEqual(
      refused('token_mismatch'),
    )
    expect(rooms().has('doc:42')).toBe(false)
  })

  it('refuses an expired grant with token_expired', async () => {
    const { issuer, join } = await setUp()
    const now = Math.floor(Date.now() / 1000)
    const grant = await mintGrant(issuer, { iat: now - 600, exp: now - 60 })
    expect(await join('doc:42', grant)).toEqual(refused('token_expired'))
  })

  it('refuses a room the grant does not list with forbidden', async () => {
    const { issuer, rooms, join } = await setUp()
    expect(await join('doc:43', await mintGrant(issuer))).toEqual(refused('forbidden'))
    expect(rooms().has('doc:43')).toBe(false)
  })

  it('refuses an access token passed as a grant with token_invalid, even one with grant claims', async () => {
    const { issuer, join } = await setUp()
    expect(await join('doc:42', await issuer.mint())).toEqual(refused('token_invalid'))
    const lookalike = await mintGrant(issuer, {}, { typ: 'at+jwt' })
    expect(await join('doc:42', lookalike)).toEqual(refused('token_invalid'))
  })

  it('refuses a grant passed as an access token, at the handshake and in-band, with token_invalid', async () => {
    const { issuer, url, socket } = await setUp()
    // Every claim an access token needs: only its typ tells it apart.
    const now = Math.floor(Date.now() / 1000)
    const grant = await mintGrant(issuer, {
      name: 'alice',
      scope: 'chat:read',
      nbf: now,
      rooms: ['doc:42'],
    })
    expect(await refusal(url, { auth: { token: grant } })).toMatchObject({
      message: 'token_invalid',
    })
    expect(await request(socket, 'rt:auth', envelope(null, { token: grant }))).toEqual(
      refused('token_invalid'),
    )
  })

  it("refuses a grant signed by a key that is not the edge's, or naming another issuer", async () => {
    const { issuer, join } = await setUp()
    const other = await startIssuer()
    expect(await join('doc:42', await mintGrant(other, { iss: issuer.url }))).toEqual(
      refused('token_invalid'),
    )
    expect(await join('doc:42', await mintGrant(issuer, { iss: other.url }))).toEqual(
      refused('token_invalid'),
    )
  })

  it.each([
    ['no client_id', { client_id: undefined }],
    ['a room pattern instead of exact rooms', { rooms: ['doc:*'] }],
    ['an empty room list', { rooms: [] }],
    ['another audience', { aud: 'realtime-api' }],
    ['an nbf in the future', { nbf: Math.floor(Date.now() / 1000) + 600 }],
    ['no jti', { jti: undefined }],
  ])('refuses a grant with %s as token_invalid', async (_, claims) => {
    const { issuer, join } = await setUp()
    expect(await join('doc:42', await mintGrant(issuer, claims))).toEqual(refused('token_invalid'))
  })

  it.each([['user:user-2'], ['user:user-1'], ['session:session-1']])(
    'never joins the server-managed room %s, even with a grant listing it',
    async (room) => {
      const { issuer, join } = await setUp()
      expect(await join(room, await mintGrant(issuer, { rooms: [room] }))).toEqual(
        refused('forbidden'),
      )
    },
  )

  it("never joins another connection's private room with a grant", async () => {
    const { issuer, url, join } = await setUp()
    const victim = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-v', sid: 's-v' }) },
    })
    const grant = await mintGrant(issuer, { rooms: [victim.id] })
    expect(await join(victim.id!, grant)).toEqual(refused('forbidden'))
  })

  it("refuses grants of a service client disabled since (a client event) with token_revoked; other clients' still work", async () => {
    const { issuer, server, join } = await setUp()
    const now = Math.floor(Date.now() / 1000)
    server.revoke({ kind: 'client', id: 'c-1', at: now, until: now + 900 })
    expect(await join('doc:42', await mintGrant(issuer))).toEqual(refused('token_revoked'))
    expect(await join('doc:42', await mintGrant(issuer, { client_id: 'c-2' }))).toMatchObject({
      ok: true,
    })
  })

  it('refuses a grant issued before a user event in force with token_revoked, while the connection issued after stays', async () => {
    const now = Math.floor(Date.now() / 1000)
    const { issuer, server, socket, join } = await setUp({ iat: now + 5 })
    server.revoke({ kind: 'user', id: 'user-1', at: now, until: now + 900 })
    expect(await join('doc:42', await mintGrant(issuer, { iat: now - 10 }))).toEqual(
      refused('token_revoked'),
    )
    expect(socket.connected).toBe(true)
    expect(await join('doc:42', await mintGrant(issuer, { iat: now + 1 }))).toMatchObject({
      ok: true,
    })
  })

  it('a grant over 4 KiB is refused as envelope_invalid before any check', async () => {
    const { join } = await setUp()
    expect(await join('doc:42', 'a'.repeat(4097))).toEqual(refused('envelope_invalid'))
  })

  it('rt:leave takes no grant', async () => {
    const { issuer, socket } = await setUp()
    const reply = await request(
      socket,
      'rt:leave',
      envelope({ room: 'doc:42', grant: await mintGrant(issuer) }),
    )
    expect(reply).toEqual(refused('envelope_invalid'))
  })

  it('an in-band refresh keeps a granted room its new rooms claim does not cover', async () => {
    const { issuer, socket, rooms, join } = await setUp()
    await join('doc:42', await mintGrant(issuer))
    await join('lobby')
    await join('team:a:x')
    const refreshed = await issuer.mint({ rooms: ['lobby'] })
    expect(await request(socket, 'rt:auth', envelope(null, { token: refreshed }))).toMatchObject({
      ok: true,
    })
    expect(rooms().has('doc:42')).toBe(true)
    expect(rooms().has('lobby')).toBe(true)
    expect(rooms().has('team:a:x')).toBe(false)
  })

  it('revoking the session ends the granted membership with the connection', async () => {
    const { issuer, server, socket, join } = await setUp()
    await join('doc:42', await mintGrant(issuer))
    const closed = disconnection(socket)
    const now = Math.floor(Date.now() / 1000)
    server.revoke({ kind: 'session', id: 'session-1', at: now, until: now + 900 })
    expect(await closed).toBe('io server disconnect')
    expect(server.io.of('/').adapter.rooms.get('doc:42')).toBeUndefined()
  })
})

describe('room grant metrics', () => {
  it('counts grants by outcome', async () => {
    const { issuer, server, join } = await setUp()
    await join('doc:42', await mintGrant(issuer))
    await join('doc:42', await mintGrant(issuer, { sub: 'user-2' }))
    const text = await server.metrics.registry.metrics()
    expect(text).toContain('realtime_room_grants_total{outcome="ok"} 1')
    expect(text).toContain('realtime_room_grants_total{outcome="token_mismatch"} 1')
  })
})
