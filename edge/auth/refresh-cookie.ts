import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { AppEnv } from '../types.ts'

/** The cookie that carries the refresh token in browser mode. */
export const REFRESH_COOKIE = 'edgegate_refresh'

/** The request header a browser client sends to use the cookie instead of the body. */
export const REFRESH_MODE_HEADER = 'x-edgegate-refresh'

/**
 * Whether the client asked for cookie mode. The header is also the CSRF
 * defence: a cross-site form cannot send it, and a cross-site fetch that
 * sets it needs a CORS preflight the edge never grants for /auth/*.
 * SameSite=Strict keeps the cookie off cross-site requests besides.
 */
export function wantsRefreshCookie<E extends AppEnv>(c: Context<E>): boolean {
  return c.req.header(REFRESH_MODE_HEADER) === 'cookie'
}

/** The refresh token from the cookie, in cookie mode only. */
export function readRefreshCookie<E extends AppEnv>(c: Context<E>): string | undefined {
  if (!wantsRefreshCookie(c)) return undefined
  const value = getCookie(c, REFRESH_COOKIE)
  return value && /^[A-Za-z0-9_-]{16,512}$/.test(value) ? value : undefined
}

/**
 * Set the refresh cookie: HttpOnly (no script can read it), SameSite=Strict,
 * scoped to /auth, Secure whenever the issuer is https.
 */
export function setRefreshCookie<E extends AppEnv>(c: Context<E>, token: string, maxAgeSeconds: number): void {
  setCookie(c, REFRESH_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Strict',
    path: '/auth',
    secure: c.get('config').issuer.startsWith('https:'),
    maxAge: Math.max(0, Math.floor(maxAgeSeconds)),
  })
}

/** Remove the refresh cookie (logout, or a refused refresh). */
export function clearRefreshCookie<E extends AppEnv>(c: Context<E>): void {
  deleteCookie(c, REFRESH_COOKIE, { path: '/auth', secure: c.get('config').issuer.startsWith('https:') })
}
