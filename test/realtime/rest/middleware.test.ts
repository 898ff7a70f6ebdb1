/**
 * The same check on REST routes as on sockets (edgegate/express, edgegate/hono): in the
 * realtime process with the server's own keys and revocations (a revoked session is
 * refused on both at once), and standalone from the JWKS and the revocation feed. Real
 * Express on a real port beside real sockets; Hono through app.request; a real issuer.
 */
import express from 'express'
import { Hono } from 'hono'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { edgegateAuth as expressAuth } from '../../../realtime/rest/express.ts'
import { edgegateAuth as honoAuth, type EdgegateVariables } from '../../../realtime/rest/hono.ts'
import { createRealtimeServer, type RealtimeServer } from '../../../realtime/server.ts'
import { cleanup, connect, startIssuer, type TestIssuer } from '../support.ts'
import { disconnection, until } from '../waits.ts'

afterEach(cleanup)
const closers: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** Express with the middleware on /api, realtime attached to the same server; one port. */
async function expressBesideRealtime(issuer: TestIssuer, scope?: string) {
  const app = express()
  const httpServer: HttpServer = createServer(app)
  const realtime = createRealtimeServer({ issuer: issuer.url, events: chatEvents, httpServer })
  closers.push(() => realtime.close({ timeoutMs: 2000 }))
  let ran = 0
  app.use('/api', expressAuth({ verifier: realtime, ...(scope && { scope }) }))
  app.get('/api/me', (req, res) => {
    ran++
    res.json({ sub: (req as { auth?: { sub: string } }).auth?.sub })
  })
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  await until(() => realtime.notReadyReasons().length === 0, { what: 'keys loaded' })
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`
  return { url, realtime, ran: () => ran }
}

const get = (url: string, authorization?: string) =>
  fetch(url, authorization ? { headers: { authorization } } : {})

/** Revoke a session on the realtime server, as a push from the edge would. */
function revokeSession(realtime: RealtimeServer, sid: string) {
  const now = Math.floor(Date.now() / 1000)
  realtime.revoke({ kind: 'session', id: sid, at: now, until: now + 600 })
}

describe('edgegate/express in the realtime process', () => {
  it('admits a valid token and hands the route its claims at req.auth', async () => {
    const issuer = await startIssuer()
    const { url, ran } = await expressBesideRealtime(issuer)
    const res = await get(`${url}/api/me`, `Bearer ${await issuer.mint({ sub: 'user-7' })}`)
    expect([res.status, await res.json()]).toEqual([200, { sub: 'user-7' }])
    expect(ran()).toBe(1)
  })

  it('refuses hostile requests with 401 and a Bearer challenge, and the route never runs', async () => {
    const issuer = await startIssuer()
    const { url, ran } = await expressBesideRealtime(issuer)
    const past = Math.floor(Date.now() / 1000) - 3600
    const cases: [string | undefined, string][] = [
      [undefined, 'token_missing'],
      ['Basic YWxpY2U6c2VjcmV0', 'token_malformed'],
      ['Bearer not-a-jwt', 'token_malformed'],
      [
        `Bearer ${await issuer.mint({ iat: past - 60, nbf: past - 60, exp: past })}`,
        'token_expired',
      ],
      [`Bearer ${await issuer.mint({ aud: 'another-service' })}`, 'token_invalid'],
      [`Bearer ${await issuer.mint({}, { header: { typ: 'JWT' } })}`, 'token_invalid'],
    ]
    for (const [authorization, code] of cases) {
      const res = await get(`${url}/api/me`, authorization)
      expect(res.status, code).toBe(401)
      expect(res.headers.get('www-authenticate'), code).toEqual(
        code === 'token_missing'
          ? 'Bearer realm="api"'
          : expect.stringMatching(
              /^Bearer realm="api", error="invalid_token", error_description="/,
            ),
      )
      expect(await res.json(), code).toMatchObject({ error: code })
    }
    expect(ran()).toBe(0)
  })

  it('a revoked session is refused on REST and on its socket alike', async () => {
    const issuer = await startIssuer()
    const { url, realtime, ran } = await expressBesideRealtime(issuer)
    const token = await issuer.mint({ sid: 'session-r' })
    const socket = await connect(url, { auth: { token } })
    const gone = disconnection(socket)
    expect((await get(`${url}/api/me`, `Bearer ${token}`)).status).toBe(200)
    revokeSession(realtime, 'session-r')
    expect(await gone).toBe('io server disconnect')
    const res = await get(`${url}/api/me`, `Bearer ${token}`)
    expect([res.status, await res.json()]).toEqual([
      401,
      expect.objectContaining({ error: 'token_revoked' }),
    ])
    expect(ran()).toBe(1)
  })

  it('a route that needs a scope refuses a token without it with 403 insufficient_scope', async () => {
    const issuer = await startIssuer()
    const { url, ran } = await expressBesideRealtime(issuer, 'orders:write')
    const res = await get(`${url}/api/me`, `Bearer ${await issuer.mint()}`)
    expect(res.status).toBe(403)
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="api", error="insufficient_scope", scope="orders:write"',
    )
    expect(ran()).toBe(0)
  })
})

describe('edgegate/hono', () => {
  it('in the realtime process: claims at c.get("edgegate"), a revoked session refused', async () => {
    const issuer = await startIssuer()
    const realtime = createRealtimeServer({ issuer: issuer.url })
    closers.push(() => realtime.close({ timeoutMs: 2000 }))
    await realtime.listen(0)
    await until(() => realtime.notReadyReasons().length === 0, { what: 'keys loaded' })
    let ran = 0
    const app = new Hono<{ Variables: EdgegateVariables }>()
    app.use('/api/*', honoAuth({ verifier: realtime }))
    app.get('/api/me', (c) => {
      ran++
      return c.json({ sub: c.get('edgegate').sub })
    })
    const token = await issuer.mint({ sub: 'user-h', sid: 'session-h' })
    const ok = await app.request('/api/me', { headers: { authorization: `Bearer ${token}` } })
    expect([ok.status, await ok.json()]).toEqual([200, { sub: 'user-h' }])
    revokeSession(realtime, 'session-h')
    const refused = await app.request('/api/me', { headers: { authorization: `Bearer ${token}` } })
    expect(refused.status).toBe(401)
    expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
    expect(await refused.json()).toMatchObject({ error: 'token_revoked' })
    const missing = await app.request('/api/me')
    expect([missing.status, missing.headers.get('www-authenticate')]).toEqual([
      401,
      'Bearer realm="api"',
    ])
    expect(ran).toBe(1)
  })

  it('standalone: JWKS and the revocation feed; 503 until the feed is read, then revoked sessions refused', async () => {
    const issuer = await startIssuer()
    const now = Math.floor(Date.now() / 1000)
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const feedAuth: (string | undefined)[] = []
    const feed = createServer((req, res) => {
      feedAuth.push(req.headers.authorization)
      const after = Number(new URL(req.url!, 'http://x').searchParams.get('after'))
      void released.then(() => {
        const events =
          after === 0
            ? [
                { cursor: 1, kind: 'session', id: 'revoked-s', at: now, until: now + 600 },
                { cursor: 2, kind: 'user', id: 'revoked-u', at: now, until: now + 600 },
              ]
            : []
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ events, next: 2 }))
      })
    })
    await new Promise<void>((resolve) => feed.listen(0, '127.0.0.1', resolve))
    closers.push(() => new Promise<void>((resolve) => feed.close(() => resolve())))
    const edgeUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}`

    const middleware = honoAuth({
      issuer: issuer.url,
      jwksUrl: issuer.jwksUrl,
      revocationFeed: { edgeUrl, token: 'feed-secret', intervalMs: 50 },
    })
    closers.push(() => middleware.close())
    const app = new Hono<{ Variables: EdgegateVariables }>()
    app.use('/api/*', middleware)
    app.get('/api/me', (c) => c.json({ sub: c.get('edgegate').sub }))
    const ask = async (sid: string) =>
      app.request('/api/me', {
        headers: { authorization: `Bearer ${await issuer.mint({ sid })}` },
      })

    const early = await ask('fine-s')
    expect([early.status, await early.json()]).toEqual([
      503,
      expect.objectContaining({ error: 'unavailable' }),
    ])
    release()
    let status = 503
    // Bounded: the feed answers at once now; each poll is 50 ms apart.
    for (let i = 0; i < 400 && status === 503; i++) {
      status = (await ask('fine-s')).status
      if (status === 503) await new Promise((r) => setTimeout(r, 25))
    }
    expect(status).toBe(200)
    const revoked = await ask('revoked-s')
    expect([revoked.status, await revoked.json()]).toEqual([
      401,
      expect.objectContaining({ error: 'token_revoked' }),
    ])
    // A user event covers that user's tokens issued at or before it, not those issued after.
    const bearer = async (claims: Record<string, unknown>) =>
      app.request('/api/me', {
        headers: { authorization: `Bearer ${await issuer.mint(claims)}` },
      })
    const before = await bearer({ sub: 'revoked-u', iat: now - 1 })
    expect([before.status, await before.json()]).toEqual([
      401,
      expect.objectContaining({ error: 'token_revoked' }),
    ])
    expect((await bearer({ sub: 'revoked-u', iat: now + 5 })).status).toBe(200)
    expect(feedAuth[0]).toBe('Bearer feed-secret')
  })

  it('refuses options that name neither a verifier nor an issuer with a TypeError', () => {
    expect(() => honoAuth({} as never)).toThrow(TypeError)
    expect(() => expressAuth({ verifier: {} } as never)).toThrow(TypeError)
  })
})
