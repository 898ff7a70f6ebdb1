/**
 * The one parser of configured http(s) URLs (issuer, JWKS, edge, login,
 * allowed origins), for every runtime: the edge, the realtime service, the
 * verifier and the client SDK.
 */

/**
 * Parse `raw` as an absolute `http:` or `https:` URL.
 *
 * @param raw - the configured value
 * @returns the URL, or undefined when `raw` is not an absolute http(s) URL
 * @example
 * ```ts
 * parseHttpUrl('https://auth.example.com/')?.origin // 'https://auth.example.com'
 * parseHttpUrl('javascript:alert(1)') // undefined
 * ```
 */
export function parseHttpUrl(raw: string): URL | undefined {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return undefined
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined
}

/**
 * `raw` without trailing slashes: a base URL that paths such as
 * `/.well-known/jwks.json` are appended to, and the form `iss` is compared in.
 *
 * @param raw - a URL string
 * @example
 * ```ts
 * trimTrailingSlashes('https://auth.example.com//') // 'https://auth.example.com'
 * ```
 */
export function trimTrailingSlashes(raw: string): string {
  return raw.replace(/\/+$/, '')
}
