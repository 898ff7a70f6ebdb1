import { base64url } from 'jose'
import { AppError } from '../../shared/errors.ts'
import { hashClientSecret } from '../clients/secret.ts'
import { findClient, type ClientRow } from '../clients/store.ts'
import { CLIENT_ID_MAX_CHARS } from '../constants.ts'
import type { FormParams } from '../http/form-body.ts'

/** The credentials a token request presents. */
export interface ClientCredentials {
  clientId: string
  clientSecret: string
}

/**
 * The client credentials of a token request: HTTP Basic (RFC 6749 §2.3.1,
 * id and secret each form-urlencoded inside it) or the `client_id` and
 * `client_secret` form fields, never both (docs/protocol.md §8). A form
 * `client_id` equal to the Basic one is tolerated, as some libraries send it.
 *
 * @param authorization - the Authorization header
 * @param form - the parsed request body
 * @throws AppError `invalid_request` for a malformed Basic credential or two
 * methods at once; `invalid_client` when none is presented or the scheme is
 * not Basic
 */
export function readClientCredentials(
  authorization: string | undefined,
  form: FormParams,
): ClientCredentials {
  const formId = form.get('client_id')
  const formSecret = form.get('client_secret')
  if (authorization !== undefined) {
    const basic = readBasic(authorization)
    if (formSecret !== undefined || (formId !== undefined && formId !== basic.clientId)) {
      throw new AppError(
        'invalid_request',
        'client authentication: use Basic or the form fields, not both',
      )
    }
    return basic
  }
  if (formSecret !== undefined && formId === undefined) {
    throw new AppError('invalid_request', 'client_secret: sent without client_id')
  }
  if (formId === undefined || formSecret === undefined) {
    throw new AppError('invalid_client', 'no client authentication')
  }
  return { clientId: formId, clientSecret: formSecret }
}

/** `Basic base64(urlencode(id) ":" urlencode(secret))`, strictly. */
function readBasic(header: string): ClientCredentials {
  const [scheme = '', ...rest] = header.trim().split(' ')
  if (scheme.toLowerCase() !== 'basic')
    throw new AppError('invalid_client', 'authorization scheme is not Basic')
  const encoded = rest.join(' ').trim()
  let decoded: string
  try {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0)
      throw new Error('not base64')
    const bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0))
    decoded = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes)
  } catch {
    throw new AppError('invalid_request', 'authorization: Basic credential is not base64 of UTF-8')
  }
  const colon = decoded.indexOf(':')
  if (colon < 0) throw new AppError('invalid_request', 'authorization: Basic credential has no ":"')
  const clientId = formDecode(decoded.slice(0, colon))
  const clientSecret = formDecode(decoded.slice(colon + 1))
  if (!clientId || !clientSecret)
    throw new AppError('invalid_request', 'authorization: Basic id or secret empty')
  return { clientId, clientSecret }
}

/** application/x-www-form-urlencoded decoding of one value; `invalid_request` when malformed. */
function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '))
  } catch {
    throw new AppError('invalid_request', 'authorization: Basic credential is not form-urlencoded')
  }
}

/** Compared against for an unknown client, so it costs what a known one does. */
const NO_CLIENT_HASH = base64url.encode(new Uint8Array(32))

/**
 * Authenticate a service client. An unknown client, a wrong secret and a
 * disabled client do the same work (one lookup, one hash, one constant-time
 * comparison) and fail with the same `invalid_client`; only the internal
 * message, for logs, says which.
 *
 * @param db - the D1 binding
 * @param credentials - as presented
 * @throws AppError `invalid_client`
 */
export async function authenticateClient(
  db: D1Database,
  credentials: ClientCredentials,
): Promise<ClientRow> {
  const lookup = credentials.clientId.length <= CLIENT_ID_MAX_CHARS ? credentials.clientId : ''
  const client = await findClient(db, lookup)
  const presented = base64url.decode(await hashClientSecret(credentials.clientSecret))
  const stored = base64url.decode(client?.secret_hash ?? NO_CLIENT_HASH)
  const equal =
    stored.byteLength === presented.byteLength && crypto.subtle.timingSafeEqual(stored, presented)
  if (!client) throw new AppError('invalid_client', 'unknown client')
  if (!equal) throw new AppError('invalid_client', 'wrong client secret')
  if (client.disabled_at !== null) throw new AppError('invalid_client', 'client disabled')
  return client
}
