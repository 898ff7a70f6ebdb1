import { parseHttpUrl } from '../../shared/url.ts'

/**
 * Whether a handshake's Origin is acceptable: absent (not a browser), or in
 * the allow-list, or the list is `'*'`. Origins compare exactly, after URL
 * normalization of the configured list (scheme, host, port).
 *
 * @param allowed - normalized origins, or '*'
 * @param origin - the Origin header
 */
export function originAllowed(
  allowed: ReadonlySet<string> | '*',
  origin: string | undefined,
): boolean {
  if (origin === undefined) return true
  if (allowed === '*') return true
  return allowed.has(origin)
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
