import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { CompactSign, compactVerify } from 'jose'
import * as v from 'valibot'
import { derivedHmacKey } from '../keys/derived-hmac-key.ts'
import { JwkThumbprintSchema } from '../../shared/claims.ts'
import { FEDERATED_SUB_MAX_CHARS, FEDERATION_FLOW_COOKIE_MAX_CHARS } from '../constants.ts'
import type { AppEnv } from '../types.ts'

/** The cookie of a federated login in flight, over plain http (local only). */
export const FLOW_COOKIE = 'edgegate_federation'

/** Where the cookie is sent on plain http: the federation routes only. */
const FLOW_COOKIE_PATH = '/auth/federated'

/** What a flow keeps between `/start` (or `/link`) and `/callback`. */
export interface FlowState {
  /** The provider's id. */
  provider: string
  /** The OAuth `state`, also the flow's id (single use, see federated_flows_used). */
  state: string
  /** The PKCE code verifier. */
  codeVerifier: string
  /** The OpenID Connect nonce the ID token must carry. */
  nonce: string
  /** Where the browser goes afterwards (from ALLOWED_RETURN_URLS). */
  returnTo: string
  /** A linking flow: the logged-in user the upstream account is linked to. */
  linkSub?: string | undefined
  /** RFC 9449 §10: the DPoP key thumbprint the session binds to. */
  jkt?: string | undefined
  /** Unix seconds after which the flow is void. */
  exp: number
}

const Token = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,128}$/))
const FlowSchema = v.strictObject({
  provider: v.pipe(v.string(), v.maxLength(32)),
  state: Token,
  codeVerifier: Token,
  nonce: Token,
  returnTo: v.pipe(v.string(), v.maxLength(2048)),
  linkSub: v.optional(v.pipe(v.string(), v.maxLength(FEDERATED_SUB_MAX_CHARS))),
  jkt: v.optional(JwkThumbprintSchema),
  exp: v.pipe(v.number(), v.integer()),
})

/** The JWS `typ` of a flow cookie, so no other HS256 token of ours can stand in for one. */
const FLOW_TYP = 'edgegate-federation-flow'

/**
 * The HMAC key of flow cookies: derived from `KEY_ENCRYPTION_KEY` (no second
 * secret to manage) under a label of its own.
 *
 * @param secret - the `KEY_ENCRYPTION_KEY` binding
 */
export function flowKey(secret: string | undefined): Promise<CryptoKey> {
  return derivedHmacKey(secret, 'edgegate federation flow cookie v1')
}

/**
 * Seal a flow: a JWS (HS256, `typ` {@link FLOW_TYP}) over its JSON.
 *
 * @param flow - the flow
 * @param key - from {@link flowKey}
 * @example
 * ```ts
 * const sealed = await sealFlow(flow, await flowKey(env.KEY_ENCRYPTION_KEY))
 * ```
 */
export async function sealFlow(flow: FlowState, key: CryptoKey): Promise<string> {
  const sealed = await new CompactSign(new TextEncoder().encode(JSON.stringify(flow)))
    .setProtectedHeader({ alg: 'HS256', typ: FLOW_TYP })
    .sign(key)
  if (sealed.length > FEDERATION_FLOW_COOKIE_MAX_CHARS) throw new Error('flow cookie too large')
  return sealed
}

/**
 * Open a sealed flow: the signature, the `typ`, the shape and the expiry.
 *
 * @param sealed - the cookie's value
 * @param key - from {@link flowKey}
 * @param now - Unix seconds
 * @returns the flow, or why it is refused (for the log; the client gets one generic 400)
 */
export async function openFlow(
  sealed: string,
  key: CryptoKey,
  now: number,
): Promise<
  { ok: true; flow: FlowState } | { ok: false; reason: 'malformed' | 'signature' | 'expired' }
> {
  if (sealed.length > FEDERATION_FLOW_COOKIE_MAX_CHARS) return { ok: false, reason: 'malformed' }
  let payload: Uint8Array
  try {
    const verified = await compactVerify(sealed, key, { algorithms: ['HS256'] })
    if (verified.protectedHeader.typ !== FLOW_TYP) return { ok: false, reason: 'signature' }
    payload = verified.payload
  } catch (err) {
    const code = (err as { code?: unknown }).code
    return {
      ok: false,
      reason: code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' ? 'signature' : 'malformed',
    }
  }
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(payload))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const parsed = v.safeParse(FlowSchema, json)
  if (!parsed.success) return { ok: false, reason: 'malformed' }
  if (parsed.output.exp <= now) return { ok: false, reason: 'expired' }
  return { ok: true, flow: parsed.output }
}

/** Name, path and prefix of the flow cookie for this deployment's issuer. */
function cookieShape<E extends AppEnv>(c: Context<E>) {
  const https = c.get('config').issuer.startsWith('https:')
  // `__Host-` (Secure, Path=/, no Domain) where the issuer is https, so no sibling can plant one.
  return https
    ? ({ prefix: 'host', path: '/', secure: true } as const)
    : ({ prefix: undefined, path: FLOW_COOKIE_PATH, secure: false } as const)
}

/**
 * Set the flow cookie: HttpOnly, SameSite=Lax (it must come back on the
 * provider's top-level redirect to the callback), for `maxAgeSeconds`.
 */
export function setFlowCookie<E extends AppEnv>(
  c: Context<E>,
  sealed: string,
  maxAgeSeconds: number,
): void {
  const { prefix, path, secure } = cookieShape(c)
  setCookie(c, FLOW_COOKIE, sealed, {
    httpOnly: true,
    sameSite: 'Lax',
    path,
    secure,
    maxAge: maxAgeSeconds,
    ...(prefix && { prefix }),
  })
}

/** The flow cookie as sent, if any. */
export function readFlowCookie<E extends AppEnv>(c: Context<E>): string | undefined {
  const { prefix } = cookieShape(c)
  return getCookie(c, FLOW_COOKIE, prefix) || undefined
}

/** Remove the flow cookie: a callback ends its flow whatever the outcome. */
export function clearFlowCookie<E extends AppEnv>(c: Context<E>): void {
  const { prefix, path, secure } = cookieShape(c)
  deleteCookie(c, FLOW_COOKIE, { path, secure, ...(prefix && { prefix }) })
}
