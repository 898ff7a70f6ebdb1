import { AppError, isAppError } from '../errors.ts'
import { readLimited } from '../read-body.ts'

/** Largest JWKS body read, in bytes. */
const JWKS_MAX_BODY_BYTES = 256 * 1024

/**
 * Read a fetched key document (a JWKS, a discovery document) as text,
 * refusing one over `maxBytes` as soon as it passes the limit: an issuer
 * that is too large is unavailable, not a client's error.
 *
 * @param res - the response
 * @param maxBytes - the limit. @default 256 KiB
 * @param what - names the document in the error
 * @throws AppError `unavailable` when the body is over `maxBytes`
 */
export async function readBody(
  res: Response,
  maxBytes = JWKS_MAX_BODY_BYTES,
  what = 'JWKS response',
): Promise<string> {
  try {
    return new TextDecoder().decode(await readLimited(res, maxBytes))
  } catch (err) {
    if (isAppError(err) && err.code === 'payload_too_large') {
      throw new AppError('unavailable', `${what} too large`, { cause: err })
    }
    throw err
  }
}

/** Settle with `promise`, or reject with the signal's reason once it aborts (even if `promise` ignores the signal). */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    if (signal.aborted) onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/** Bounds applied to a JWKS response's freshness, in ms. */
export interface FreshnessBounds {
  defaultMaxAgeMs: number
  minMaxAgeMs: number
  maxMaxAgeMs: number
}

/**
 * How long a JWKS response stays fresh: its `Cache-Control: max-age` minus
 * `Age`, clamped to the bounds; `no-store`/`no-cache` is the floor, and a
 * missing or unparsable `max-age` the default.
 */
export function freshnessMs(headers: Headers, bounds: FreshnessBounds): number {
  let seconds: number | undefined
  for (const directive of (headers.get('cache-control') ?? '').toLowerCase().split(',')) {
    const [name = '', value = ''] = directive.trim().split('=', 2)
    if (name === 'no-store' || name === 'no-cache') return bounds.minMaxAgeMs
    const match = /^"?(\d{1,10})"?$/.exec(value)
    if (name === 'max-age' && match && seconds === undefined) seconds = Number(match[1])
  }
  if (seconds === undefined) return bounds.defaultMaxAgeMs
  const age = Number(headers.get('age'))
  const remaining = seconds - (Number.isInteger(age) && age > 0 ? age : 0)
  return Math.min(bounds.maxMaxAgeMs, Math.max(bounds.minMaxAgeMs, remaining * 1000))
}

/** The JWKS URL as a string; http(s) only. @throws TypeError */
export function parseJwksUrl(value: string | URL): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new TypeError('jwksUrl must be an absolute URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new TypeError('jwksUrl must be http(s)')
  return url.href
}

/** A duration option: `fallback` when absent. @throws TypeError unless a finite number >= 0 */
export function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${name} must be a finite number >= 0`)
  }
  return value
}
