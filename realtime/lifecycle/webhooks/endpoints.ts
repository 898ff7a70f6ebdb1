import { createHash } from 'node:crypto'
import { LIFECYCLE_EVENT_TYPES, type LifecycleEventType } from '../../../shared/constants.ts'
import { parseHttpUrl } from '../../../shared/url.ts'
import { isSenderSecret } from '../../../shared/webhooks/signature.ts'
import { WEBHOOK_MAX_ENDPOINTS } from '../../constants.ts'

/** One `WEBHOOKS` entry, checked (docs/protocol.md §16). */
export interface WebhookEndpoint {
  /** Short stable id from the URL: the metrics' `endpoint` label and the Redis group (never the URL, which may hold a token). */
  id: string
  url: string
  /** `whsec_` + base64 of ≥ 24 bytes. */
  secret: string
  /** The types delivered; absent: all. */
  types?: readonly LifecycleEventType[]
}

/**
 * Parse `WEBHOOKS`: a JSON list of `{ "url", "secret", "types"? }`. Each
 * problem is one line that names the entry and the field, never the secret.
 *
 * @param text - the variable's value
 * @returns the endpoints, and the problems (none when valid)
 * @example
 * ```ts
 * const { endpoints, problems } = parseWebhooks(env.WEBHOOKS ?? '[]')
 * ```
 */
export function parseWebhooks(text: string): { endpoints: WebhookEndpoint[]; problems: string[] } {
  const problems: string[] = []
  let list: unknown
  try {
    list = JSON.parse(text)
  } catch {
    return { endpoints: [], problems: ['WEBHOOKS: not JSON'] }
  }
  if (!Array.isArray(list)) return { endpoints: [], problems: ['WEBHOOKS: expected a JSON list'] }
  if (list.length > WEBHOOK_MAX_ENDPOINTS) {
    return { endpoints: [], problems: [`WEBHOOKS: more than ${WEBHOOK_MAX_ENDPOINTS} endpoints`] }
  }
  const endpoints: WebhookEndpoint[] = []
  const seen = new Set<string>()
  for (const [i, entry] of (list as unknown[]).entries()) {
    const problem = checkEntry(entry, seen)
    if (typeof problem === 'string') problems.push(`WEBHOOKS[${i}]${problem}`)
    else endpoints.push(problem)
  }
  return problems.length > 0 ? { endpoints: [], problems } : { endpoints, problems }
}

/** One entry as an endpoint, or its problem (`.field: …`). */
function checkEntry(entry: unknown, seen: Set<string>): WebhookEndpoint | string {
  if (typeof entry !== 'object' || entry === null) return ': expected an object'
  const { url, secret, types } = entry as Record<string, unknown>
  if (typeof url !== 'string' || !parseHttpUrl(url)) return '.url: expected an http(s) URL'
  if (typeof secret !== 'string' || !isSenderSecret(secret)) {
    return '.secret: expected whsec_ + base64 of at least 24 random bytes'
  }
  if (
    types !== undefined &&
    (!Array.isArray(types) ||
      types.length === 0 ||
      !types.every((t) => (LIFECYCLE_EVENT_TYPES as readonly unknown[]).includes(t)))
  ) {
    return `.types: expected a non-empty list of ${LIFECYCLE_EVENT_TYPES.join(', ')}`
  }
  const id = endpointId(url)
  if (seen.has(id)) return '.url: listed twice'
  seen.add(id)
  return { id, url, secret, ...(types && { types: types as LifecycleEventType[] }) }
}

/** A URL's endpoint id: 12 hex characters of its SHA-256. */
export function endpointId(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 12)
}
