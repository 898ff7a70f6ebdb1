import * as oauth from 'oauth4webapi'
import { AppError } from '../../shared/errors.ts'
import {
  FEDERATION_DISCOVERY_RETRY_MS,
  FEDERATION_DISCOVERY_TTL_MS,
  FEDERATION_FETCH_TIMEOUT_MS,
} from '../constants.ts'
import { log } from '../http/log.ts'
import type { FederationProvider } from './config.ts'

/** What the edge needs to talk to one provider, built once per isolate and discovery period. */
export interface ProviderClient {
  provider: FederationProvider
  /** The provider's discovery document, checked by oauth4webapi (issuer equality and all). */
  as: oauth.AuthorizationServer
  client: oauth.Client
  auth: oauth.ClientAuth
  /** Options every request to the provider takes: a timeout, and plain http for a loopback issuer. */
  requestOptions: () => { signal: AbortSignal; [oauth.allowInsecureRequests]?: boolean }
}

const cache = new Map<string, { at: number; client: Promise<ProviderClient>; failed?: boolean }>()

/** Options of {@link providerClient}. */
export interface ProviderClientOptions {
  /** Milliseconds since the epoch. */
  now: number
  /** Per-request timeout. @default FEDERATION_FETCH_TIMEOUT_MS */
  timeoutMs?: number
}

/**
 * The provider's client: its discovery document, read from
 * `<issuer>/.well-known/openid-configuration` with a timeout and reused for
 * {@link FEDERATION_DISCOVERY_TTL_MS}. The cache holds one entry per
 * configured provider (their number is bounded by FEDERATION_PROVIDERS_MAX);
 * a failed read is answered from the cache for {@link FEDERATION_DISCOVERY_RETRY_MS}.
 *
 * @param provider - a configured provider
 * @param options - {@link ProviderClientOptions}
 * @throws AppError `unavailable` when the provider cannot be reached or its metadata is unusable
 * @example
 * ```ts
 * const { as } = await providerClient(provider, { now: Date.now() })
 * as.authorization_endpoint // from the provider's discovery document
 * ```
 */
export function providerClient(
  provider: FederationProvider,
  options: ProviderClientOptions,
): Promise<ProviderClient> {
  const key = `${provider.id}\n${provider.issuer}\n${provider.clientId}`
  const hit = cache.get(key)
  const ttl = hit?.failed ? FEDERATION_DISCOVERY_RETRY_MS : FEDERATION_DISCOVERY_TTL_MS
  if (hit && options.now - hit.at < ttl) return hit.client
  const timeoutMs = options.timeoutMs ?? FEDERATION_FETCH_TIMEOUT_MS
  const requestOptions = () => ({
    signal: AbortSignal.timeout(timeoutMs),
    ...(provider.insecure && { [oauth.allowInsecureRequests]: true }),
  })
  const client = (async (): Promise<ProviderClient> => {
    const issuer = new URL(provider.issuer)
    let as: oauth.AuthorizationServer
    try {
      as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...requestOptions() }),
      )
    } catch (err) {
      log('warn', 'federation discovery failed', { provider: provider.id, reason: reasonOf(err) })
      throw new AppError('unavailable', 'the identity provider could not be reached')
    }
    if (!as.authorization_endpoint || !as.token_endpoint || !as.jwks_uri) {
      log('warn', 'federation discovery lacks an endpoint', { provider: provider.id })
      throw new AppError('unavailable', 'the identity provider metadata is incomplete')
    }
    // oauth4webapi holds the endpoints it calls to https; the browser's is ours to check.
    if (!provider.insecure && new URL(as.authorization_endpoint).protocol !== 'https:') {
      log('warn', 'federation authorization endpoint is not https', { provider: provider.id })
      throw new AppError('unavailable', 'the identity provider metadata is unusable')
    }
    const methods = as.token_endpoint_auth_methods_supported
    // Basic is the default of RFC 8414 when the provider names none.
    const auth =
      methods && !methods.includes('client_secret_basic') && methods.includes('client_secret_post')
        ? oauth.ClientSecretPost(provider.clientSecret)
        : oauth.ClientSecretBasic(provider.clientSecret)
    return { provider, as, client: { client_id: provider.clientId }, auth, requestOptions }
  })()
  // A failure is remembered briefly, so a provider that is down is not asked again by every start.
  const entry: { at: number; client: Promise<ProviderClient>; failed?: boolean } = {
    at: options.now,
    client,
  }
  client.catch(() => {
    entry.failed = true
  })
  cache.set(key, entry)
  return client
}

/** A library's reason, cut short; oauth4webapi's messages name the failed check, never a secret. */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return `${typeof code === 'string' ? `${code}: ` : ''}${err.message}`.slice(0, 200)
  }
  return 'unknown'
}
