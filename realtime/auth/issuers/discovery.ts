import * as v from 'valibot'
import { AppError } from '../../../shared/errors.ts'
import { abortable, readBody } from '../../../shared/jwks/http.ts'
import { parseHttpUrl } from '../../../shared/url.ts'
import { DISCOVERY_MAX_BYTES, DISCOVERY_TIMEOUT_MS } from '../../constants.ts'

/** The part of an OpenID Provider's metadata realtime uses (OpenID Connect Discovery 1.0 §3). */
const DiscoverySchema = v.object({
  issuer: v.string(),
  jwks_uri: v.pipe(v.string(), v.url()),
})

/** Options of {@link discoverJwksUri}. */
export interface DiscoveryOptions {
  /** The issuer the document must name, exactly (OpenID Connect Discovery 1.0 §4.3). */
  issuer: string
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch
  /** Headers and body, ms. @default 5_000 */
  timeoutMs?: number
}

/**
 * Fetch an issuer's discovery document and return its `jwks_uri`. The
 * document must name the configured issuer, and the JWKS must be http(s);
 * redirects are not followed and the body is bounded.
 *
 * @param url - the discovery URL, from configuration only
 * @param options - {@link DiscoveryOptions}
 * @throws AppError `unavailable` (unreachable, not 200, too large, not the expected document)
 * @example
 * ```ts
 * const jwksUri = await discoverJwksUri('https://tenant.example/.well-known/openid-configuration', { issuer: 'https://tenant.example/' })
 * ```
 */
export async function discoverJwksUri(url: string, options: DiscoveryOptions): Promise<string> {
  const fetchImpl = options.fetch ?? globalThis.fetch
  const ctl = new AbortController()
  const timer = setTimeout(
    () => ctl.abort(new AppError('unavailable', 'discovery fetch timed out')),
    options.timeoutMs ?? DISCOVERY_TIMEOUT_MS,
  )
  try {
    const init: RequestInit = {
      headers: { accept: 'application/json' },
      signal: ctl.signal,
      redirect: 'manual',
    }
    const res = await abortable(fetchImpl(url, init), ctl.signal)
    if (res.status !== 200) {
      res.body?.cancel().catch(() => {})
      throw new AppError('unavailable', `discovery answered HTTP ${res.status}`)
    }
    const text = await abortable(
      readBody(res, DISCOVERY_MAX_BYTES, 'discovery document'),
      ctl.signal,
    )
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new AppError('unavailable', 'discovery document is not JSON')
    }
    const parsed = v.safeParse(DiscoverySchema, json)
    if (!parsed.success)
      throw new AppError('unavailable', 'discovery document lacks issuer or jwks_uri')
    if (parsed.output.issuer !== options.issuer) {
      throw new AppError('unavailable', 'discovery document names another issuer')
    }
    if (!parseHttpUrl(parsed.output.jwks_uri))
      throw new AppError('unavailable', 'jwks_uri is not http(s)')
    return parsed.output.jwks_uri
  } catch (err) {
    throw err instanceof AppError
      ? err
      : new AppError('unavailable', 'discovery request failed', { cause: err })
  } finally {
    clearTimeout(timer)
  }
}
