/**
 * A minimal Socket.IO v4 client over `ws` (Engine.IO v4, websocket
 * transport only, default namespace): enough to handshake, emit with acks,
 * answer pings and receive events. The bench uses it instead of
 * socket.io-client so that, on a 2-core machine, the load generator costs
 * less than the server it measures; every server variant gets the same one.
 */
import WebSocket from 'ws'

/** Options of {@link connectSio}. */
export interface SioOptions {
  /** Handshake `auth` (sent in the CONNECT packet). */
  auth?: Record<string, unknown>
  /** Extra query parameters of the handshake URL. */
  query?: Record<string, string>
  /** Local address to connect from (spreads ephemeral ports over 127.0.0.0/8). */
  localAddress?: string
  /** Called with server-sent events. */
  onEvent?: (client: SioClient, name: string, arg: unknown) => void
  /** Called once when the connection closes. */
  onClose?: () => void
  /** Give up on the handshake after this long, ms. @default 10_000 */
  timeoutMs?: number
}

/** A connected client. */
export interface SioClient {
  /** Emit `event` with one argument, and an ack callback receiving the raw ack JSON text. */
  emit(event: string, arg: unknown, ack?: (replyJson: string) => void): void
  /** Emit a pre-serialized `[event, arg]` array, with an ack callback. */
  emitJson(arrayJson: string, ack?: (replyJson: string) => void): void
  readonly open: boolean
  close(): void
}

/** A refused handshake: the server's CONNECT_ERROR payload. */
export class ConnectRefused extends Error {
  readonly payload: string
  constructor(payload: string) {
    super(`handshake refused: ${payload.slice(0, 200)}`)
    this.payload = payload
    this.name = 'ConnectRefused'
  }
}

/**
 * Open a websocket to `baseUrl` (http://host:port) and complete the Socket.IO
 * handshake.
 *
 * @returns the client once the server has sent CONNECT; rejects with
 *   {@link ConnectRefused} on CONNECT_ERROR, or an Error on socket failure
 */
export function connectSio(baseUrl: string, options: SioOptions = {}): Promise<SioClient> {
  const params = new URLSearchParams({ EIO: '4', transport: 'websocket', ...options.query })
  const url = `${baseUrl.replace(/^http/, 'ws')}/socket.io/?${params}`
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    ...(options.localAddress && { localAddress: options.localAddress }),
  })
  const acks = new Map<number, (reply: string) => void>()
  let nextId = 0
  let closed = false
  const client: SioClient = {
    emit(event, arg, ack) {
      client.emitJson(JSON.stringify([event, arg]), ack)
    },
    emitJson(arrayJson, ack) {
      if (closed) return
      if (!ack) return ws.send(`42${arrayJson}`)
      const id = nextId++
      acks.set(id, ack)
      ws.send(`42${id}${arrayJson}`)
    },
    get open() {
      return !closed
    },
    close() {
      if (closed) return
      closed = true
      ws.close()
    },
  }
  return new Promise((resolve, reject) => {
    let settled = false
    const timer = setTimeout(
      () => fail(new Error('handshake timed out')),
      options.timeoutMs ?? 10_000,
    )
    const fail = (err: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      closed = true
      ws.terminate()
      reject(err)
    }
    ws.on('error', (err) => fail(err))
    ws.on('close', () => {
      closed = true
      fail(new Error('closed during the handshake'))
      options.onClose?.()
    })
    ws.on('message', (raw) => {
      const text = raw.toString()
      switch (text[0]) {
        case '0': // Engine.IO OPEN: send the Socket.IO CONNECT with auth
          ws.send(options.auth ? `40${JSON.stringify(options.auth)}` : '40')
          return
        case '2': // ping
          ws.send('3')
          return
        case '4':
          break
        default:
          return
      }
      switch (text[1]) {
        case '0':
          if (!settled) {
            settled = true
            clearTimeout(timer)
            resolve(client)
          }
          return
        case '4':
          return fail(new ConnectRefused(text.slice(2)))
        case '3': {
          const bracket = text.indexOf('[')
          const id = Number(text.slice(2, bracket))
          const ack = acks.get(id)
          if (!ack) return
          acks.delete(id)
          ack(text.slice(bracket))
          return
        }
        case '2': {
          if (!options.onEvent) return
          const [name, arg] = JSON.parse(text.slice(text.indexOf('['))) as [string, unknown]
          options.onEvent(client, name, arg)
          return
        }
        case '1':
          client.close()
          return
      }
    })
  })
}

let rotation = 0
/**
 * The next local address of 127.0.0.2–127.0.0.250: connections spread over
 * many source addresses never run out of ephemeral ports while closed ones
 * sit in TIME_WAIT.
 */
export function nextLocalAddress(): string {
  rotation = (rotation % 249) + 1
  return `127.0.0.${rotation + 1}`
}
