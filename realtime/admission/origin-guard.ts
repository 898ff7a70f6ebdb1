import type { IncomingHttpHeaders } from 'node:http'
import { firstHeaderValue } from './forwarded.ts'
import { parseHttpUrl } from '../../shared/url.ts'

/**
 * Whether a handshake's Origin is acceptable (docs/protocol.md §5): absent
 * (not a browser), the server's own origin (a same-origin page, or a client
 * such as python-socketio's websocket transport that sends the URL it
 * connects to), in the allow-list, or the list is `'*'`. Every comparison is
 * exact on the header as sent: browsers serialize Origin canonically, so a
 * path, userinfo, a default port or a trailing slash marks a look-alike.
 *
 * @param allowed - normalized origins, or '*'
 * @param origin - the Origin header
 * @param own - the server's own origin for this request ({@link ownOrigin}), if known
 * @example
 * ```ts
 * originAllowed(new Set(['https://app.example.com']), 'https://realtime.example.com', 'https://realtime.example.com') // true
 * ```
 */
export function originAllowed(
  allowed: ReadonlySet<string> | '*',
  origin: string | undefined,
  own?: string,
): boolean {
  if (origin === undefined) return true
  if (allowed === '*') return true
  return origin === own || allowed.has(origin)
}

/** The parts of a handshake {@link ownOrigin} reads. */
export interface OriginRequest {
  headers: IncomingHttpHeaders
  /** Whether the connection itself is TLS. */
  secure: boolean
}

/** A Host value: a DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

/**
 * The origin a browser on this server's own page would send: the request's
 * `Host` with the connection's scheme, or, only behind a proxy you run
 * (`trustProxy`), the first `X-Forwarded-Host` / `X-Forwarded-Proto`. A
 * Host that is not a plain host[:port] (userinfo, a path, several values)
 * gives no own origin at all.
 *
 * @param request - the handshake's headers and whether its connection is TLS
 * @param trustProxy - whether X-Forwarded-* headers come from a proxy you run. @default false
 * @returns the canonical origin (`new URL(...).origin`), or undefined
 * @example
 * ```ts
 * ownOrigin({ headers: { host: 'rt.example.com:443' }, secure: true }) // 'https://rt.example.com'
 * ```
 */
export function ownOrigin(request: OriginRequest, trustProxy = false): string | undefined {
  const forwardedHost = trustProxy
    ? firstHeaderValue(request.headers['x-forwarded-host'])
    : undefined
  const forwardedProto = trustProxy
    ? firstHeaderValue(request.headers['x-forwarded-proto'])
    : undefined
  const host = forwardedHost ?? request.headers.host
  if (typeof host !== 'string' || !HOST.test(host)) return undefined
  const scheme = forwardedProto?.toLowerCase() ?? (request.secure ? 'https' : 'http')
  if (scheme !== 'http' && scheme !== 'https') return undefined
  try {
    return new URL(`${scheme}://${host}`).origin
  } catch {
    return undefined
  }
}

/**
 * Normalize configured origins (`https://app.example.com:443` → `https://app.example.com`).
 *
 * @throws TypeError naming an entry that is not an http(s) origin
 */
export function normalizeOrigins(origins: readonly string[] | '*'): ReadonlySet<string> | '*' {
  if (origins === '*') return '*'
  const set = new Set<string>()
  for (const entry of origins) {
    if (entry === '*') return '*'
    const url = parseHttpUrl(entry)
    if (!url) throw new TypeError(`allowed origin ${JSON.stringify(entry)} is not an http(s) URL`)
    set.add(url.origin)
  }
  return set
}
