import { ConfigError } from '../config-error.ts'

/** The relying party the edge is for passkeys (docs/protocol.md §14). */
export interface PasskeyConfig {
  /** `RP_ID`: the relying party id. @default the hostname of `ISSUER` */
  rpId: string
  /** `RP_ORIGINS`: comma-separated origins a ceremony may come from. @default the origin of `ISSUER` (locally, the demo page's) */
  origins: string[]
  /** `RP_NAME`: the name authenticators show. @default 'edgegate' */
  rpName: string
}

/**
 * Parse `RP_ID`, `RP_ORIGINS` and `RP_NAME`.
 *
 * @param vars - the worker's variables
 * @param issuer - the parsed `ISSUER`, whose host and origin are the defaults
 * @throws ConfigError naming the bad variable
 */
export function readPasskeyConfig(
  vars: Record<string, string | undefined>,
  issuer: string,
): PasskeyConfig {
  const issuerUrl = new URL(issuer)
  const rpId = vars.RP_ID?.trim() || issuerUrl.hostname
  if (!/^[a-z0-9.-]+$/i.test(rpId) || rpId.startsWith('.') || rpId.endsWith('.'))
    throw new ConfigError('RP_ID must be a host name (no scheme, port or path)')
  const origins = (vars.RP_ORIGINS ?? issuerUrl.origin)
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '')
  if (origins.length === 0) throw new ConfigError('RP_ORIGINS must list at least one origin')
  for (const origin of origins) {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new ConfigError('RP_ORIGINS must be a comma-separated list of origins')
    }
    if (url.origin !== origin)
      throw new ConfigError('RP_ORIGINS entries must be bare origins (scheme, host, port)')
    // An origin is acceptable only where the RP id is its host or a registrable suffix of it.
    if (url.hostname !== rpId && !url.hostname.endsWith(`.${rpId}`))
      throw new ConfigError('RP_ORIGINS entries must be on RP_ID or a subdomain of it')
  }
  return { rpId, origins, rpName: vars.RP_NAME?.trim() || 'edgegate' }
}
