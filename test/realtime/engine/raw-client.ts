/**
 * A Socket.IO client spoken by hand over a plain `ws` WebSocket (Engine.IO
 * v4 and Socket.IO v5 frames), for what stock clients never do: stop
 * reading, send pongs unasked, escape every character of a frame.
 */
import WebSocket from 'ws'
import { until } from '../waits.ts'

/** A hand-driven connection. */
export interface RawClient {
  ws: WebSocket
  /** Every text frame received, in order. */
  frames: string[]
  /** Whether the websocket has closed. */
  closed(): boolean
  /** Send a raw Engine.IO frame. */
  send(frame: string): void
  /** Emit `event` with one argument and ack id `ackId`, JSON written as given (`json` overrides `arg`). */
  emit(event: string, arg: unknown, ackId: number, json?: string): void
  /** Resolve with the ack payload for `ackId` (bounded). */
  ack(ackId: number, timeoutMs?: number): Promise<any>
}

/**
 * Open a websocket to `url`'s Socket.IO endpoint and CONNECT to `/` with
 * `auth`; resolves once connected, rejects with the CONNECT_ERROR data.
 */
export async function rawConnect(url: string, auth: Record<string, unknown>): Promise<RawClient> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`)
  const frames: string[] = []
  let closed = false
  ws.on('message', (data, isBinary) => {
    if (!isBinary) frames.push(String(data))
  })
  ws.on('close', () => (closed = true))
  ws.on('error', () => (closed = true))
  await until(() => frames.some((f) => f.startsWith('0{')) || closed, { what: 'engine.io open' })
  ws.send(`40${JSON.stringify(auth)}`)
  await until(() => frames.some((f) => f.startsWith('40') || f.startsWith('44')) || closed, {
    what: 'socket.io connect',
  })
  const error = frames.find((f) => f.startsWith('44'))
  if (error) throw Object.assign(new Error('connect_error'), { data: JSON.parse(error.slice(2)) })
  const client: RawClient = {
    ws,
    frames,
    closed: () => closed,
    send: (frame) => ws.send(frame),
    emit(event, arg, ackId, json) {
      ws.send(`42${ackId}${json ?? JSON.stringify([event, arg])}`)
    },
    async ack(ackId, timeoutMs = 10_000) {
      const prefix = `43${ackId}[`
      await until(() => frames.some((f) => f.startsWith(prefix)), {
        timeoutMs,
        what: `ack ${ackId}`,
      })
      return JSON.parse(frames.find((f) => f.startsWith(prefix))!.slice(prefix.length - 1))[0]
    },
  }
  return client
}
