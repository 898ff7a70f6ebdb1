import { AppError } from '../../shared/errors.ts'

/** Options of {@link extractToken}. */
export interface TokenSourceOptions {
  /** Name of a cookie that may carry the token. @default undefined (off) */
  cookieName?: string
  /** Accept `?token=` in the handshake URL (it ends up in access logs). @default false */
  allowQueryToken?: boolean
}

/** The parts of a Socket.IO handshake a token can come from. */
export interface HandshakeLike {
  auth: Record<string, unknown> | undefined
  headers: Record<string, string | string[] | undefined>
  query: Record<string, unknown>
}

/**
 * Find the handshake's token (docs/protocol.md §5): `auth.token`, then
 * `Authorization: Bearer`, then the configured cookie; first found wins.
 * A `token` query parameter is refused unless enabled.
 *
 * @throws AppError `token_missing` (absent or empty), `token_malformed` (not a string), `token_in_query`
 */
export function extractToken(handshake: HandshakeLike, options: TokenSourceOptions = {}): string {
  const auth = handshake.auth
  if (
    auth &&
    typeof auth === 'object' &&
    'token' in auth &&
    auth.token !== undefined &&
    auth.token !== null
  ) {
    if (typeof auth.token !== 'string')
      throw new AppError('token_malformed', 'auth.token is not a string')
    if (auth.token === '') throw new AppError('token_missing', 'auth.token is empty')
    return auth.token
  }
  const authorization = header(handshake.headers, 'authorization')
  if (authorization !== undefined) {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization)
    if (!match) throw new AppError('token_malformed', 'Authorization is not a Bearer token')
    return match[1]!
  }
  if (options.cookieName) {
    const value = readCookie(header(handshake.headers, 'cookie'), options.cookieName)
    if (value) return value
  }
  const query = handshake.query.token
  if (query !== undefined) {
    if (!options.allowQueryToken)
      throw new AppError('token_in_query', 'token sent in the query string')
    if (typeof query !== 'string')
      throw new AppError('token_malformed', 'query token is not a string')
    if (query === '') throw new AppError('token_missing', 'query token is empty')
    return query
  }
  throw new AppError('token_missing', 'no token in auth, header, cookie or query')
}

function header(headers: HandshakeLike['headers'], name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim())
      } catch {
        return undefined
      }
    }
  }
  return undefined
}
