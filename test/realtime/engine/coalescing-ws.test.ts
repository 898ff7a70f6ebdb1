import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { CoalescingWebSocketServer } from '../../../realtime/engine/coalescing-ws.ts'

/** expect.poll's bound: its 1 s default is short for a loaded machine; this only catches a hang. */
const POLL = { timeout: 10_000 }

let server: Server | undefined
afterEach(async () => {
  server?.closeAllConnections()
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined))
  server = undefined
})

/** A server upgrading through CoalescingWebSocketServer; resolves with a connected client and the server's side. */
async function pair() {
  const wss = new CoalescingWebSocketServer({ noServer: true })
  const accepted = new Promise<{ ws: WebSocket; raw: Socket }>((resolve) => {
    server = createServer()
    server.on('upgrade', (req, raw: Socket, head) =>
      wss.handleUpgrade(req, raw, head, (ws) => resolve({ ws: ws as never, raw })),
    )
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  const client = new WebSocket(`ws://127.0.0.1:${(server!.address() as AddressInfo).port}`)
  const received: string[] = []
  client.on('message', (data) => received.push(String(data)))
  await new Promise((resolve) => client.once('open', resolve))
  return { ...(await accepted), client, received }
}

/** Count the writes that reach the TCP socket (each `_write` or `_writev` is one system call). */
function countWrites(raw: Socket): { writes: number; writevs: number } {
  const counts = { writes: 0, writevs: 0 }
  const socket = raw as Socket & {
    _write: (...a: unknown[]) => void
    _writev: (...a: unknown[]) => void
  }
  const write = socket._write.bind(socket)
  const writev = socket._writev.bind(socket)
  socket._write = (...a) => (counts.writes++, write(...a))
  socket._writev = (...a) => (counts.writevs++, writev(...a))
  return counts
}

describe('CoalescingWebSocketServer', () => {
  it('sends the frames of one tick in a single write, in order, each send callback called', async () => {
    const { ws, raw, client, received } = await pair()
    const counts = countWrites(raw)
    let callbacks = 0
    for (let i = 0; i < 10; i++) ws.send(`m${i}`, () => callbacks++)
    await new Promise((resolve) => setImmediate(resolve))
    expect(counts).toEqual({ writes: 0, writevs: 1 })
    await expect.poll(() => received.length, POLL).toBe(10)
    expect(received).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
    expect(callbacks).toBe(10)
    client.close()
  })

  it('writes again in a later tick, and flushes what was corked before a close', async () => {
    const { ws, raw, client, received } = await pair()
    const counts = countWrites(raw)
    ws.send('first')
    await new Promise((resolve) => setImmediate(resolve))
    ws.send('second')
    ws.close(4001, 'bye')
    const closed = new Promise<number>((resolve) => client.once('close', resolve))
    expect(await closed).toBe(4001)
    expect(received).toEqual(['first', 'second'])
    expect(counts.writes + counts.writevs).toBe(2)
  })

  it('coalesces every connection written in one tick (a broadcast), each in its own single write', async () => {
    const wss = new CoalescingWebSocketServer({ noServer: true })
    const accepted: { ws: WebSocket; raw: Socket }[] = []
    server = createServer()
    server.on('upgrade', (req, raw: Socket, head) =>
      wss.handleUpgrade(req, raw, head, (ws) => accepted.push({ ws: ws as never, raw })),
    )
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`
    const clients = Array.from({ length: 3 }, () => new WebSocket(url))
    const received = clients.map((client) => {
      const list: string[] = []
      client.on('message', (data) => list.push(String(data)))
      return list
    })
    try {
      await Promise.all(
        clients.map((client) => new Promise((resolve) => client.once('open', resolve))),
      )
      await expect.poll(() => accepted.length, POLL).toBe(3)
      const counts = accepted.map(({ raw }) => countWrites(raw))
      for (let i = 0; i < 4; i++) for (const { ws } of accepted) ws.send(`b${i}`)
      await new Promise((resolve) => setImmediate(resolve))
      expect(counts).toEqual(accepted.map(() => ({ writes: 0, writevs: 1 })))
      for (const list of received) await expect.poll(() => list.length, POLL).toBe(4)
      expect(received).toEqual(accepted.map(() => ['b0', 'b1', 'b2', 'b3']))
      // A later tick corks again: one more system call per connection.
      for (const { ws } of accepted) ws.send('later')
      await new Promise((resolve) => setImmediate(resolve))
      expect(counts.map((c) => c.writes + c.writevs)).toEqual([2, 2, 2])
    } finally {
      for (const { ws } of accepted) ws.terminate()
      for (const client of clients) client.terminate()
    }
  })
})
