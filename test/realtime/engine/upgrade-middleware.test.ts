import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Server } from 'socket.io'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { skipCorsOnUpgrade } from '../../../realtime/engine/upgrade-middleware.ts'

const ORIGIN = 'http://app.test'
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/** A Socket.IO server with CORS for ORIGIN and the upgrade skip, on a free port. */
async function start(): Promise<{ io: Server; url: string }> {
  const httpServer = createServer()
  const io = new Server(httpServer, { cors: { origin: [ORIGIN] } })
  skipCorsOnUpgrade(io.engine)
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise((resolve) => void io.close(() => resolve())))
  return { io, url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}` }
}

/** The 101's headers of a WebSocket upgrade sent from ORIGIN (closed once open). */
function upgradeHeaders(url: string): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, {
      origin: ORIGIN,
    })
    let headers: IncomingHttpHeaders | undefined
    ws.on('upgrade', (res) => (headers = res.headers))
    ws.on('open', () => {
      ws.close()
      resolve(headers!)
    })
    ws.on('error', reject)
  })
}

describe('Engine.IO middleware on WebSocket upgrades', () => {
  it('an upgrade skips the CORS handler and still opens', async () => {
    const { url } = await start()
    const headers = await upgradeHeaders(url)
    expect(headers['access-control-allow-origin']).toBeUndefined()
  })

  it('a long-polling request from a listed origin still gets its CORS headers', async () => {
    const { url } = await start()
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
      headers: { origin: ORIGIN },
    })
    await res.body?.cancel()
    expect(res.status).toBe(200)
    expect(res.headers.get('access-control-allow-origin')).toBe(ORIGIN)
  })

  it("middleware an application adds later runs on upgrades again, CORS's with it", async () => {
    const { io, url } = await start()
    const seen: string[] = []
    io.engine.use((req: { url?: string }, _res: unknown, next: () => void) => {
      seen.push(req.url ?? '')
      next()
    })
    const headers = await upgradeHeaders(url)
    expect(seen.some((u) => u.includes('transport=websocket'))).toBe(true)
    expect(headers['access-control-allow-origin']).toBe(ORIGIN)
  })
})
