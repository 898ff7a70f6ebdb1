/**
 * Key rotation as a realtime node sees it (docs/protocol.md §4 invariant 5,
 * §6): a `key` revocation event makes the node refetch the JWKS at once, and
 * a push signed by a key the node has not fetched yet is judged after one
 * bounded refetch, even when made-up kids in handshakes have just used the
 * handshake path's refetch. Real server, real HTTP issuer, real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  cleanup,
  connect,
  pushRevocations as push,
  refusal,
  startIssuer,
  startServer,
  testKey,
  type TestIssuer,
} from '../support.ts'
import { disconnection, timeline, until } from '../waits.ts'

afterEach(cleanup)

/** A handshake with a made-up kid: it spends the handshake path's unknown-kid refetch. */
async function spendHandshakeRefetch(url: string, issuer: TestIssuer) {
  const stranger = await testKey()
  const refused = await refusal(url, { auth: { token: await issuer.mint({}, { key: stranger }) } })
  expect(refused.message).toBe('token_invalid')
}

describe('key rotation at a realtime node', () => {
  it('judges a push signed by a key it has not fetched yet after one refetch, and applies it', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const target = await connect(url, { auth: { token: await issuer.mint({ sid: 'session-x' }) } })
    const gone = disconnection(target)
    await spendHandshakeRefetch(url, issuer)
    const next = await testKey()
    issuer.keys.push(next)
    const fetchesBefore = issuer.fetches
    const now = Math.floor(Date.now() / 1000)
    const res = await push(url, issuer, next, [
      { cursor: 1, kind: 'session', id: 'session-x', at: now, until: now + 300 },
    ])
    expect(res.status).toBe(200)
    expect(issuer.fetches).toBe(fetchesBefore + 1)
    expect(await gone).toBe('io server disconnect')
  })

  it('after an emergency rotation, the key event refetches at once: sockets of the dropped key go, logins with the new key connect', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const old = issuer.key
    const held = await connect(url, { auth: { token: await issuer.mint() } })
    const seen = timeline(held)
    const gone = disconnection(held)
    await spendHandshakeRefetch(url, issuer)
    // The emergency rotation: the active key leaves the JWKS at once, a new one signs.
    const fresh = await testKey()
    issuer.keys = [fresh]
    issuer.key = fresh
    const now = Math.floor(Date.now() / 1000)
    const res = await push(url, issuer, fresh, [
      { cursor: 1, kind: 'key', id: old.kid, at: now, until: now + 300 },
    ])
    expect(res.status).toBe(200)
    expect(await gone).toBe('io server disconnect')
    expect(seen[0]).toEqual(['rt:error', expect.objectContaining({ code: 'token_revoked' })])
    const login = await connect(url, { auth: { token: await issuer.mint() } })
    expect(login.connected).toBe(true)
  })

  it('a key event however learnt (here revoke(), as pull and push apply it) refetches the JWKS with no handshake, one fetch for a burst', async () => {
    const issuer = await startIssuer()
    const { server } = await startServer(issuer)
    const next = await testKey()
    issuer.keys.push(next)
    const fetchesBefore = issuer.fetches
    const now = Math.floor(Date.now() / 1000)
    for (let i = 0; i < 5; i++) {
      server.revoke({ kind: 'key', id: `dropped-${i}`, at: now, until: now + 300 })
    }
    await until(() => server.keySet.kids().includes(next.kid), {
      what: 'the new key to be fetched',
    })
    // The first event's fetch, then one shared by the events that came while it was in flight.
    expect(issuer.fetches - fetchesBefore).toBeGreaterThanOrEqual(1)
    expect(issuer.fetches - fetchesBefore).toBeLessThanOrEqual(2)
  })
})
