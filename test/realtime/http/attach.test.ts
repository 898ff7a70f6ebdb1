/**
 * Realtime on a server the application owns (`createRealtimeServer({ httpServer })`): a
 * real Express app and a plain node:http app keep serving their own routes, their own
 * `/healthz` included, while Socket.IO and edgegate's HTTP routes (health, readiness,
 * metrics, the server API, the revocation push) answer under `/realtime` on the same port.
 */
import express from 'express'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { createRealtimeServer, type RealtimeServer } from '../../../realtime/server.ts'
import type { RealtimeServerOptions } from '../../../realtime/server-options.ts'
import {
  cleanup,
  connect,
  envelope,
  next,
  pushRevocations,
  startIssuer,
  type TestIssuer,
} from '../support.ts'
import { disconnection, request, until } from '../waits.ts'

afterEach(cleanup)
const servers: RealtimeServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ timeoutMs: 2000 })
})

/** An Express app with its own `/healthz`, as most apps have. */
function expressApp() {
  const app = express()
  app.get('/healthz', (_req, res) => void res.json({ app: 'express' }))
  app.get('/orders/:id', (req, res) => void res.json({ order: req.params.id }))
  return app
}

/** Attach realtime to `httpServer`, listen on a free port, wait for the keys. */
async function attachAndListen(
  httpServer: HttpServer,
  issuer: TestIssuer,
  options: Partial<RealtimeServerOptions> = {},
) {
  const realtime = createRealtimeServer({
    issuer: issuer.url,
    events: chatEvents,
    httpServer,
    ...options,
  })
  servers.push(realtime)
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  const { port } = httpServer.address() as AddressInfo
  await until(() => realtime.notReadyReasons().length === 0, { what: 'keys loaded' })
  return { realtime, url: `http://127.0.0.1:${port}` }
}

describe('attached to an Express app', () => {
  it("serves the app's routes and edgegate's under /realtime on one port", async () => {
    const issuer = await startIssuer()
    const { url } = await attachAndListen(createServer(expressApp()), issuer)

    expect(await (await fetch(`${url}/orders/42`)).json()).toEqual({ order: '42' })
    // The application's /healthz stays its own; edgegate's sits under the prefix.
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ app: 'express' })
    expect(await (await fetch(`${url}/realtime/healthz`)).json()).toEqual({ ok: true })
    const ready = await fetch(`${url}/realtime/readyz`)
    expect([ready.status, await ready.json()]).toEqual([200, { ready: true }])
    const metrics = await fetch(`${url}/realtime/metrics`)
    expect(metrics.status).toBe(200)
    expect(await metrics.text()).toContain('realtime_')
    // The server API is mounted (and refuses a caller without a service token).
    const publish = await fetch(`${url}/realtime/api/v1/publish`, { method: 'POST' })
    expect(publish.status).toBe(401)
    // A path that only starts like the prefix is the application's.
    const lookalike = await fetch(`${url}/realtimeish`)
    expect(lookalike.status).toBe(404)
    expect(await lookalike.text()).toContain('Cannot GET /realtimeish')
  })

  it('accepts a verified socket on the same port and chats', async () => {
    const issuer = await startIssuer()
    const { url } = await attachAndListen(createServer(expressApp()), issuer)
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    const message = next(socket, 'chat:message')
    await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'beside express' }))
    expect(await message).toMatchObject({ room: 'lobby', text: 'beside express' })
  })

  it('refuses a socket without a token, as on its own server', async () => {
    const issuer = await startIssuer()
    const { url } = await attachAndListen(createServer(expressApp()), issuer)
    await expect(connect(url)).rejects.toMatchObject({ message: 'token_missing' })
  })

  it('applies a revocation pushed to /realtime/internal/revocations', async () => {
    const issuer = await startIssuer()
    const { url } = await attachAndListen(createServer(expressApp()), issuer)
    const socket = await connect(url, { auth: { token: await issuer.mint({ sid: 'gone-1' }) } })
    const gone = disconnection(socket)
    const now = Math.floor(Date.now() / 1000)
    const res = await pushRevocations(`${url}/realtime`, issuer, issuer.key, [
      { cursor: 1, kind: 'session', id: 'gone-1', at: now, until: now + 300 },
    ])
    expect(res.status).toBe(200)
    expect(await gone).toBe('io server disconnect')
  })

  it('loads the keys only once the application listens', async () => {
    const issuer = await startIssuer()
    const httpServer = createServer(expressApp())
    const realtime = createRealtimeServer({ issuer: issuer.url, httpServer })
    servers.push(realtime)
    expect(realtime.notReadyReasons()).not.toEqual([])
    expect(issuer.fetches).toBe(0)
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
    await until(() => realtime.notReadyReasons().length === 0, { what: 'keys loaded' })
    expect(issuer.fetches).toBeGreaterThan(0)
  })
})

describe('attached to a plain node:http app', () => {
  it('serves its handler and edgegate side by side, under a prefix of its choosing', async () => {
    const issuer = await startIssuer()
    const httpServer = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`mine: ${req.url}`)
    })
    const { url } = await attachAndListen(httpServer, issuer, { httpPrefix: '/_edgegate' })
    expect(await (await fetch(`${url}/healthz`)).text()).toBe('mine: /healthz')
    expect(await (await fetch(`${url}/realtime/healthz`)).text()).toBe('mine: /realtime/healthz')
    expect(await (await fetch(`${url}/_edgegate/healthz`)).json()).toEqual({ ok: true })
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    expect(socket.connected).toBe(true)
  })
})

describe('httpPrefix', () => {
  it.each([
    ['realtime', 'no leading slash'],
    ['/realtime/', 'a trailing slash'],
    ['/a//b', 'an empty segment'],
    ['/socket.io', "Socket.IO's path"],
    ['/socket.io/x', "under Socket.IO's path"],
    ['/', 'the root as a slash'],
  ])('refuses %s (%s) with a TypeError', (httpPrefix) => {
    expect(() =>
      createRealtimeServer({
        issuer: 'http://127.0.0.1:1',
        httpServer: createServer(),
        httpPrefix,
      }),
    ).toThrow(TypeError)
  })
})
