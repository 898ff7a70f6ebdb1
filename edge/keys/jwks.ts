import type { Context } from 'hono'
import { base64url } from 'jose'
import type { AppEnv } from '../types.ts'
import { keyStore } from './store.ts'

/**
 * `GET /.well-known/jwks.json`: public keys only, cacheable for
 * `JWKS_MAX_AGE`, with a content ETag honoured by `If-None-Match`, and open
 * to every origin (docs/protocol.md §4).
 */
export async function jwks(c: Context<AppEnv>) {
  const now = Math.floor(c.get('now') / 1000)
  const body = JSON.stringify({ keys: await keyStore(c.env).jwks(now) })
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(body))
  const etag = `"${base64url.encode(new Uint8Array(digest)).slice(0, 27)}"`
  c.header('Cache-Control', `public, max-age=${c.get('config').jwksMaxAgeSeconds}`)
  c.header('ETag', etag)
  c.header('Access-Control-Allow-Origin', '*')
  if (matches(c.req.header('if-none-match'), etag)) return c.body(null, 304)
  c.header('Content-Type', 'application/json')
  return c.body(body, 200)
}

/** RFC 9110 §13.1.2: weak comparison over a list, or `*`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)
}
