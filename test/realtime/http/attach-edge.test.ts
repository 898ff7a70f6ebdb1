/**
 * The whole attached setup against the real edge (wrangler dev): an Express app owns the
 * server, realtime is attached under /realtime, the edge's REALTIME_URLS names that base
 * path, and a logout at the edge ends the user's socket through the push (no feed here)
 * and refuses its token on the app's REST route.
 */
import express from 'express'
import { once } from 'node:events'
import { createServer, type Server as HttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatEvents } from '../../../realtime/events/chat.ts'
import { edgegateAuth } from '../../../realtime/rest/express.ts'
import { createRealtimeServer, type RealtimeServer } from '../../../realtime/server.ts'
import { startSeededEdge, type SeededEdge } from '../../support/edge.ts'
import { cleanup, connect } from '../support.ts'
import { disconnection, until } from '../waits.ts'

let edge: SeededEdge
let realtime: RealtimeServer
let httpServer: HttpServer
let url: string

beforeAll(async () => {
  // Hold a port for the app while the edge starts: the edge must know where to push.
  const placeholder = createServer().listen(0, '127.0.0.1')
  await once(placeholder, 'listening')
  const port = (placeholder.address() as AddressInfo).port
  url = `http://127.0.0.1:${port}`
  edge = await startSeededEdge({ REALTIME_URLS: `${url}/realtime` })
  const app = express()
  httpServer = createServer(app)
  realtime = createRealtimeServer({ issuer: edge.url, events: chatEvents, httpServer })
  app.use('/api', edgegateAuth({ verifier: realtime }))
  app.get('/api/me', (req, res) => {
    res.json({ sub: (req as { auth?: { sub: string } }).auth?.sub })
  })
  await new Promise<void>((resolve) => placeholder.close(() => resolve()))
  await new Promise<void>((resolve) => httpServer.listen(port, '127.0.0.1', resolve))
  await until(() => realtime.notReadyReasons().length === 0, {
    timeoutMs: 30_000,
    what: 'keys loaded',
  })
}, 180_000)

afterAll(async () => {
  await cleanup()
  await realtime?.close({ timeoutMs: 2000 })
  await edge?.stop()
})

describe('realtime attached to an Express app, with the real edge', () => {
  it("a logout at the edge is pushed to /realtime: the socket ends and the app's REST route refuses the token", async () => {
    const tokens = await edge.login('alice')
    const bearer = { authorization: `Bearer ${tokens.access_token}` }
    const socket = await connect(url, { auth: { token: tokens.access_token } })
    const gone = disconnection(socket, 30_000)
    expect((await fetch(`${url}/api/me`, { headers: bearer })).status).toBe(200)

    const logout = await fetch(`${edge.url}/auth/logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: tokens.refresh_token }),
    })
    expect(logout.status).toBe(204)
    expect(await gone).toBe('io server disconnect')
    const refused = await fetch(`${url}/api/me`, { headers: bearer })
    expect([refused.status, await refused.json()]).toEqual([
      401,
      expect.objectContaining({ error: 'token_revoked' }),
    ])
  })
})
