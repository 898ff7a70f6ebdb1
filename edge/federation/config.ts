import * as v from 'valibot'
import { parseHttpUrl } from '../../shared/url.ts'
import { ConfigError } from '../config-error.ts'
import {
  ALLOWED_RETURN_URLS_MAX,
  FEDERATION_PROVIDERS_MAX,
  RETURN_URL_MAX_CHARS,
} from '../constants.ts'

/** One OpenID Connect provider the edge signs users in with (docs/protocol.md §14). */
export interface FederationProvider {
  /** Its id in paths (`/auth/federated/:id/...`) and in links: 1–32 of `a-z 0-9 _ -`. */
  id: string
  /** The provider's issuer identifier; discovery is read from it. */
  issuer: string
  clientId: string
  clientSecret: string
  /** Scopes asked for; always includes `openid`. @default ['openid'] */
  scopes: string[]
  /** Whether an upstream account with no local link may create one (also needs `SIGNUP` not off). @default false */
  allowSignup: boolean
  /** What the login button says. @default the id */
  name: string
  /** Plain http is accepted for a loopback issuer only (a local provider such as the demo's). */
  insecure: boolean
}

/** The federation part of the edge's configuration. */
export interface FederationConfig {
  /** `FEDERATION`: the providers, in the order discovery lists them. */
  providers: FederationProvider[]
  /** `ALLOWED_RETURN_URLS`: where a flow may return to, matched exactly. */
  returnUrls: string[]
}

const ProviderSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'id')),
  issuer: v.pipe(v.string(), v.maxLength(512)),
  clientId: v.pipe(v.string(), v.minLength(1), v.maxLength(512)),
  clientSecret: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
  scopes: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/, 'scope'))),
      v.maxLength(32),
    ),
  ),
  allowSignup: v.optional(v.boolean()),
  name: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(64))),
})

/**
 * Parse `FEDERATION` (a JSON list of providers) and `ALLOWED_RETURN_URLS`
 * (comma-separated absolute URLs). Unset or empty `FEDERATION` means no
 * providers. Checked at startup (the first request), so a typo is a clear
 * error instead of a login that fails later.
 *
 * @param vars - the worker's variables
 * @throws ConfigError naming the variable and the rule (never a secret's value)
 * @example
 * ```ts
 * readFederationConfig({
 *   FEDERATION: '[{"id":"corp","issuer":"https://idp.example.com","clientId":"a","clientSecret":"b"}]',
 *   ALLOWED_RETURN_URLS: 'https://app.example.com/',
 * }).providers[0]?.scopes // ['openid']
 * ```
 */
export function readFederationConfig(vars: Record<string, string | undefined>): FederationConfig {
  return { providers: readProviders(vars.FEDERATION), returnUrls: readReturnUrls(vars) }
}

function readProviders(raw: string | undefined): FederationProvider[] {
  if (raw === undefined || raw.trim() === '') return []
  let list: unknown
  try {
    list = JSON.parse(raw)
  } catch {
    throw new ConfigError('FEDERATION must be a JSON array of providers')
  }
  if (!Array.isArray(list)) throw new ConfigError('FEDERATION must be a JSON array of providers')
  if (list.length > FEDERATION_PROVIDERS_MAX)
    throw new ConfigError(`FEDERATION lists at most ${FEDERATION_PROVIDERS_MAX} providers`)
  const seen = new Set<string>()
  return list.map((entry: unknown, index) => {
    const parsed = v.safeParse(ProviderSchema, entry)
    if (!parsed.success) {
      // Name the field and the rule, never the value: the entry holds a client secret.
      const issue = parsed.issues[0]
      const field = issue ? v.getDotPath(issue) : undefined
      throw new ConfigError(
        `FEDERATION[${index}]${field ? `.${field}` : ''}: ${field ? 'invalid' : 'must be an object with id, issuer, clientId and clientSecret (and optional scopes, allowSignup, name)'}`,
      )
    }
    const p = parsed.output
    if (seen.has(p.id)) throw new ConfigError(`FEDERATION[${index}].id: "${p.id}" is listed twice`)
    seen.add(p.id)
    const issuer = parseHttpUrl(p.issuer)
    if (!issuer || issuer.search || issuer.hash || issuer.username || issuer.password)
      throw new ConfigError(`FEDERATION[${index}].issuer: an absolute https URL without query`)
    const insecure = issuer.protocol === 'http:'
    if (insecure && !isLoopbackHost(issuer.hostname))
      throw new ConfigError(`FEDERATION[${index}].issuer: https (plain http only on loopback)`)
    const scopes = p.scopes ?? []
    return {
      id: p.id,
      issuer: p.issuer,
      clientId: p.clientId,
      clientSecret: p.clientSecret,
      scopes: scopes.includes('openid') ? scopes : ['openid', ...scopes],
      allowSignup: p.allowSignup ?? false,
      name: p.name ?? p.id,
      insecure,
    }
  })
}

function readReturnUrls(vars: Record<string, string | undefined>): string[] {
  const list = (vars.ALLOWED_RETURN_URLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (list.length > ALLOWED_RETURN_URLS_MAX)
    throw new ConfigError(`ALLOWED_RETURN_URLS lists at most ${ALLOWED_RETURN_URLS_MAX} URLs`)
  for (const entry of list) {
    const url = parseHttpUrl(entry)
    if (!url || url.hash || entry.length > RETURN_URL_MAX_CHARS)
      throw new ConfigError(
        'ALLOWED_RETURN_URLS must be a comma-separated list of absolute http(s) URLs without fragment',
      )
  }
  if (list.length === 0 && (vars.FEDERATION ?? '').trim() !== '' && vars.FEDERATION !== '[]')
    throw new ConfigError('FEDERATION needs ALLOWED_RETURN_URLS: where a login may return to')
  return list
}

/** `localhost`, 127.0.0.0/8 or [::1]. */
export function isLoopbackHost(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  )
}
