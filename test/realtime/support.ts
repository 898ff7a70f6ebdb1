/**
 * Test support for the realtime service: a real JWKS issuer on loopback
 * whose keys the test holds (so it can mint tokens with any claims), the
 * realtime server on port 0, real socket.io-client connections, and one
 * `cleanup()` that closes them all.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server as HttpServer } from 'node:http'
import { once } from 'node:events'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import {
  io as ioClient,
  type ManagerOptions,
  type Socket,
  type SocketOptions,
} from 'socket.io-client'
import {
  createRealtimeServer,
  type RealtimeServer,
  type RealtimeServerOptions,
} from '../../realtime/server.ts'
import { chatEvents } from '../../realtime/events/chat.ts'

const cleanups: (() => Promise<void> | void)[] = []

/** Close everything the helpers below opened, newest first. */
export async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!()
}

/** A signing key the test holds. */
export interface TestKey {
  kid: string
  alg: 'ES256' | 'RS256' | 'EdDSA'
  privateKey: CryptoKey
  publicJwk: JWK
}

/** Generate a key pair (not yet published). */
export async function testKey(
  alg: TestKey['alg'] = 'ES256',
  kid = `k-${Math.random().toString(36).slice(2, 10)}`,
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  return {
    kid,
    alg,
    privateKey: privateKey as CryptoKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' },
  }
}

/** A JWKS issuer on 127.0.0.1 the test controls. */
export interface TestIssuer {
  url: string
  jwksUrl: string
  /** Keys currently published. */
  keys: TestKey[]
  /** The key `mint` signs with by default. */
  key: TestKey
  /** JWKS requests served so far. */
  fetches: number
  /** Its discovery document's URL, and the requests it served. */
  discoveryUrl: string
  discoveryFetches: number
  /** While true, the JWKS endpoint answers 503. */
  down: boolean
  /** Cache-Control max-age the JWKS is served with, seconds. */
  maxAge: number
  /** Sign an access token; claims and header can be overridden or removed (set to undefined). */
  mint(
    claims?: Record<string, unknown>,
    options?: { key?: TestKey; header?: Record<string, unknown> },
  ): Promise<string>
}

/** A token under the issuer's real kid with a random signature of the right length. */
export async function forgedToken(issuer: TestIssuer): Promise<string> {
  const [header, payload, signature] = (await issuer.mint()).split('.')
  return `${header}.${payload}.${randomBytes(Buffer.from(signature!, 'base64url').length).toString('base64url')}`
}

/** Start a test issuer with one ES256 key. */
export async function startIssuer(): Promise<TestIssuer> {
  const server: HttpServer = createServer((req, res) => {
    // Discovery (docs/protocol.md §12), down with the JWKS.
    if (req.url === '/.well-known/openid-configuration') {
      issuer.discoveryFetches++
      if (issuer.down) return void res.writeHead(503).end()
      res.writeHead(200, { 'content-type': 'application/json' })
      return void res.end(JSON.stringify({ issuer: url, jwks_uri: issuer.jwksUrl }))
    }
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end()
      return
    }
    issuer.fetches++
    if (issuer.down) {
      res.writeHead(503).end()
      return
    }
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': `public, max-age=${issuer.maxAge}`,
    })
    res.end(JSON.stringify({ keys: issuer.keys.map((k) => k.publicJwk) }))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  const url = `http://127.0.0.1:${port}`
  const key = await testKey()
  const issuer: TestIssuer = {
    url,
    jwksUrl: `${url}/.well-known/jwks.json`,
    keys: [key],
    key,
    fetches: 0,
    discoveryUrl: `${url}/.well-known/openid-configuration`,
    discoveryFetches: 0,
    down: false,
    maxAge: 300,
    async mint(claims = {}, options = {}) {
      const signer = options.key ?? issuer.key
      const now = Math.floor(Date.now() / 1000)
      const payload: Record<string, unknown> = {
        iss: url,
        aud: 'realtime',
        sub: 'user-1',
        sid: 'session-1',
        jti: `jti-${Math.random().toString(36).slice(2)}`,
        name: 'alice',
        scope: 'chat:read chat:write',
        rooms: ['lobby', 'team:a:*'],
        iat: now,
        nbf: now,
        exp: now + 300,
        ...claims,
      }
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k]
      const header: Record<string, unknown> = {
        alg: signer.alg,
        typ: 'at+jwt',
        kid: signer.kid,
        ...options.header,
      }
      for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k]
      return new SignJWT(payload).setProtectedHeader(header as never).sign(signer.privateKey)
    },
  }
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return issuer
}

/**
 * POST a revocation push to `url` (a node's base URL) as the edge signs it
 * (edge/revocations/push.ts), signed with `key` of `issuer`.
 */
export async function pushRevocations(
  url: string,
  issuer: TestIssuer,
  key: TestKey,
  events: object[],
): Promise<Response> {
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({
    iss: issuer.url,
    aud: 'realtime-internal',
    jti: `push-${Math.random().toString(36).slice(2)}`,
    iat: now,
    exp: now + 60,
    events,
  })
    .setProtectedHeader({ alg: key.alg, typ: 'revocation+jwt', kid: key.kid })
    .sign(key.privateKey)
  return fetch(`${url}/internal/revocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  })
}

/** Start a realtime server on 127.0.0.1:0 with the chat events, trusting `issuer`. */
export async function startServer(
  issuer: { url: string; jwksUrl?: string },
  options: Partial<RealtimeServerOptions> = {},
): Promise<{ server: RealtimeServer; url: string }> {
  const server = createRealtimeServer({
    issuer: issuer.url,
    jwksUrl: issuer.jwksUrl ?? `${issuer.url}/.well-known/jwks.json`,
    events: chatEvents,
    ...options,
  })
  const address = await server.listen(0, '127.0.0.1')
  cleanups.push(() => server.close({ timeoutMs: 2000 }))
  // Wait for keys, as a load balancer waits for /readyz.
  const url = `http://127.0.0.1:${address.port}`
  for (let i = 0; i < 100 && server.notReadyReasons().length > 0; i++)
    await new Promise((r) => setTimeout(r, 20))
  return { server, url }
}

type ClientOptions = Partial<ManagerOptions & SocketOptions>

/** Open a client (no reconnection) and track it for cleanup. */
export function client(url: string, options: ClientOptions = {}): Socket {
  const socket = ioClient(url, {
    reconnection: false,
    forceNew: true,
    transports: ['websocket'],
    ...options,
  })
  cleanups.push(() => {
    socket.close()
  })
  return socket
}

/** Connect and resolve once connected; reject with the connect_error. */
export function connect(url: string, options: ClientOptions = {}): Promise<Socket> {
  const socket = client(url, options)
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket))
    socket.once('connect_error', (err) => reject(err))
  })
}

/** Connect expecting a refusal; resolves to the connect_error's message and data. */
export async function refusal(
  url: string,
  options: ClientOptions = {},
): Promise<{ message: string; data: any }> {
  try {
    await connect(url, options)
  } catch (err) {
    return { message: (err as Error).message, data: (err as { data?: unknown }).data }
  }
  throw new Error('expected the handshake to be refused')
}

let seq = 0
/** Build an envelope. */
export function envelope(
  data: unknown,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { v: 1, id: `t-${++seq}`, ts: Date.now(), data, ...extra }
}

/** Resolve with the next occurrence of `event` on `socket`. */
export function next<T = any>(socket: Socket, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${event} within ${timeoutMs} ms`)),
      timeoutMs,
    )
    socket.once(event, (payload: T) => {
      clearTimeout(timer)
      resolve(payload)
    })
  })
}
