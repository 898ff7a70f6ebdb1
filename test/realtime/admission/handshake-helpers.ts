/**
 * Helpers shared by the handshake tests: the two transports, the contract's
 * `connect_error` data per code (docs/protocol.md §5 error table, written out here
 * rather than taken from realtime/errors.ts so the tests hold the server to
 * the contract), a server whose user middleware records every socket that
 * got past verification, and hand-built JWS pieces for forgeries.
 */
import type { ManagerOptions, SocketOptions } from 'socket.io-client'
import type { SocketMiddleware } from '../../../realtime/admission/handshake.ts'
import type { RealtimeServer, RealtimeServerOptions } from '../../../realtime/server.ts'
import type { SocketAuth } from '../../../realtime/identity.ts'
import { connect, refusal, startServer } from '../support.ts'

/** Both Engine.IO transports; every handshake behaviour holds on each. */
export const TRANSPORTS = ['websocket', 'polling'] as const
export type Transport = (typeof TRANSPORTS)[number]

export type ClientOptions = Partial<ManagerOptions & SocketOptions>

/** `connect` and `refusal` pinned to one transport, for `describe.each(TRANSPORTS)`. */
export function overTransport(transport: Transport) {
  return {
    open: (url: string, options: ClientOptions = {}) =>
      connect(url, { transports: [transport], ...options }),
    refuse: (url: string, options: ClientOptions = {}) =>
      refusal(url, { transports: [transport], ...options }),
  }
}

/** The `connect_error` data the contract gives each handshake refusal (no `loginUrl` configured). */
export const REFUSAL_DATA = {
  token_missing: { code: 'token_missing', retryable: false, refresh: false },
  token_in_query: { code: 'token_in_query', retryable: false, refresh: false },
  token_malformed: { code: 'token_malformed', retryable: false, refresh: false },
  token_invalid: { code: 'token_invalid', retryable: false, refresh: false },
  token_expired: { code: 'token_expired', retryable: true, refresh: true },
  token_revoked: { code: 'token_revoked', retryable: false, refresh: false },
  origin_forbidden: { code: 'origin_forbidden', retryable: false, refresh: false },
  rate_limited: { code: 'rate_limited', retryable: true, refresh: false },
  unavailable: { code: 'unavailable', retryable: true, refresh: false },
} as const

export type HandshakeRefusalCode = keyof typeof REFUSAL_DATA

/** The whole `connect_error` (message and data) a refusal with `code` must produce. */
export function refusedWith(code: Exclude<HandshakeRefusalCode, 'rate_limited'>): {
  message: string
  data: (typeof REFUSAL_DATA)[typeof code]
} {
  return { message: code, data: REFUSAL_DATA[code] }
}

/** A realtime server whose user middleware records `socket.data.auth` of every socket it sees. */
export interface RecordingServer {
  server: RealtimeServer
  url: string
  /** `socket.data.auth` as the first user middleware saw it, one entry per handshake that passed verification. */
  passed: SocketAuth[]
}

/**
 * Start a server (through the shared `startServer`, so `cleanup()` closes it)
 * with a recording middleware in front of any `options.middleware`.
 */
export async function startRecordingServer(
  issuer: { url: string; jwksUrl?: string },
  options: Partial<RealtimeServerOptions> = {},
): Promise<RecordingServer> {
  const passed: SocketAuth[] = []
  const record: SocketMiddleware = (socket, next) => {
    passed.push(structuredClone(socket.data.auth))
    next()
  }
  const { server, url } = await startServer(issuer, {
    ...options,
    middleware: [record, ...[options.middleware ?? []].flat()],
  })
  return { server, url, passed }
}

/** Unix seconds now. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}

/** base64url of a string, or of a value's JSON. */
export function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString(
    'base64url',
  )
}

/** The decoded payload of a compact JWS (no verification). */
export function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >
}

/** A clock for the server that the test can move forward (tokens are still minted on the real clock). */
export function movableClock(): { now: () => number; advance(ms: number): void } {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    advance(ms) {
      offset += ms
    },
  }
}
