import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { AppEnv } from '../types.ts'

/** The cookie that carries the refresh token in browser mode, over plain http (local only). */
export const REFRESH_COOKIE = 'edgegate_refresh'

/**
 * Its name where the issuer is https. The `__Host-` prefix makes the browser
 * refuse the cookie unless it is Secure, has `Path=/` and no Domain, so
 * neither a sibling subdomain nor a plain-http man in the middle can plant a
 * look-alike that would be sent first.
 */
export const HOST_REFRESH_COOKIE = `__Host-${REFRESH_COOKIE}`

/** The request header a browser client sends to use the cookie instead of the body. */
export const REFRESH_MODE_HEADER = 'x-edgegate-refresh'

/** Name and attributes of the refresh cookie for this deployment's issuer. */
function cookieShape<E extends AppEnv>(c: Context<E>) {
  const https = c.get('config').issuer.startsWith('https:')
  return https
    ? ({ name: REFRESH_COOKIE, prefix: 'host', path: '/', secure: true } as const)
    : ({ name: REFRESH_COOKIE, prefix: undefined, path: '/auth', secure: false } as const)
}

/**
 * Whether the client asked for cookie mode. The header is also the CSRF
 * defence: a cross-site form cannot send it, and a cross-site fetch that
 * sets it needs a CORS preflight the edge never grants for /auth/*.
 * SameSite=Strict keeps the cookie off cross-site requests besides.
 */
export function wantsRefreshCookie<E extends AppEnv>(c: Context<E>): boolean {
  return c.req.header(REFRESH_MODE_HEADER) === 'cookie'
}

/**
 * The refresh token from the cookie, in cookie mode only. On https only the
 * `__Host-` cookie is read: an unprefixed one there can only be planted.
 */
export function readRefreshCookie<E extends AppEnv>(c: Context<E>): string | undefined {
  if (!wantsRefreshCookie(c)) return undefined
  const { name, prefix } = cookieShape(c)
  const value = getCookie(c, name, prefix)
  return value && /^[A-Za-z0-9_-]{16,512}$/.test(value) ? value : undefined
}

/**
 * Set the refresh cookie: HttpOnly (no script can read it), SameSite=Strict.
 * Where the issuer is https: `__Host-edgegate_refresh`, Secure, `Path=/`, no
 * Domain; on local http: `edgegate_refresh`, `Path=/auth` (a browser drops a
 * Secure or `__Host-` cookie set over http).
 */
export function setRefreshCookie<E extends AppEnv>(
  c: Context<E>,
  token: string,
  maxAgeSeconds: number,
): void {
  const { name, prefix, path, secure } = cookieShape(c)
  setCookie(c, name, token, {
    httpOnly: true,
    sameSite: 'Strict',
    path,
    secure,
    ...(prefix && { prefix }),
    maxAge: Math.max(0, Math.floor(maxAgeSeconds)),
  })
}

/** Remove the refresh cookie (logout, or a refused refresh). */
export function clearRefreshCookie<E extends AppEnv>(c: Context<E>): void {
  const { name, prefix, path, secure } = cookieShape(c)
  deleteCookie(c, name, { path, secure, ...(prefix && { prefix }) })
}
