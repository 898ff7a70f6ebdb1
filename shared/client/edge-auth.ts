import { startAuthentication, startRegistration } from '@simplewebauthn/browser'
import { decodeJwt } from 'jose'
import type { AccessClaims, CookieTokenResponse, TokenResponse } from '../claims.ts'
import { ClientError } from './client-error.ts'
import { canBind, createDpopSigner, type DpopKeyStore, type DpopSigner } from './dpop-key.ts'
import { trimTrailingSlashes } from '../url.ts'

/** What the client knows of its session, from the access token's claims. */
export type SessionInfo = Pick<AccessClaims, 'sub' | 'sid' | 'name' | 'scope' | 'rooms' | 'exp'> & {
  /** The compact access token itself, for the realtime handshake. */
  accessToken: string
  /**
   * (v1.2) The thumbprint of the key the session is bound to (`cnf.jkt`,
   * docs/protocol.md §15); absent for a bearer session. Every use of a bound
   * token needs a proof by that key, which {@link EdgeAuth.proof} signs.
   */
  jkt?: string
}

/** The calls that issue tokens, which bind them when they carry a proof (docs/protocol.md §15). */
const BINDING_PATHS: ReadonlySet<string> = new Set([
  '/auth/login',
  '/auth/refresh',
  '/auth/signup',
  '/auth/passkeys/login',
  '/auth/passkeys/signup',
  '/auth/email/verify',
])

/** Options of {@link EdgeAuth}. */
export interface EdgeAuthOptions {
  /** The edge's base URL. */
  edgeUrl: string
  /**
   * Where the refresh token lives: `cookie` (an HttpOnly cookie the edge
   * sets; what browsers should use, so no script can read it) or `memory`
   * (this object; for Node clients). @default 'cookie' in browsers, else 'memory'
   */
  refreshStorage?: 'cookie' | 'memory'
  fetch?: typeof globalThis.fetch
  /**
   * Bind the session to a key pair this client never reveals (DPoP,
   * docs/protocol.md §15): a non-extractable P-256 key kept in `store`
   * (IndexedDB in browsers, so a reload keeps the session; memory in Node).
   * `false` turns binding off (bearer tokens). @default true where WebCrypto exists
   */
  dpop?: boolean | { store?: DpopKeyStore }
}

/**
 * Login, refresh and logout against the edge. Refreshes are single-flight:
 * however many callers ask at once, one refresh token is spent (a second
 * spend would be reuse and revoke the session).
 */
export class EdgeAuth {
  private session: SessionInfo | undefined
  private refreshToken: string | undefined
  private inflight: Promise<SessionInfo> | undefined
  private readonly edgeUrl: string
  private readonly mode: 'cookie' | 'memory'
  private readonly fetch: typeof globalThis.fetch
  private readonly signer: DpopSigner | undefined
  /** The edge's latest `DPoP-Nonce`, sent in every proof from then on. */
  private edgeNonce: string | undefined
  /** How many refreshes have succeeded (for display and tests). */
  refreshes = 0

  constructor(options: EdgeAuthOptions) {
    this.edgeUrl = trimTrailingSlashes(options.edgeUrl)
    this.mode = options.refreshStorage ?? (typeof document === 'undefined' ? 'memory' : 'cookie')
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    const dpop = options.dpop ?? canBind()
    if (dpop !== false) {
      if (!canBind()) throw new TypeError('EdgeAuth: dpop needs WebCrypto (crypto.subtle)')
      this.signer = createDpopSigner(dpop === true ? undefined : dpop.store)
    }
  }

  /** Whether this client binds its sessions to a key (DPoP). */
  get binds(): boolean {
    return this.signer !== undefined
  }

  /**
   * The RFC 7638 thumbprint of this client's key, or undefined when binding
   * is off: what a federated login passes as `dpopJkt` so that its session is
   * bound too (docs/protocol.md §15, RFC 9449 §10).
   *
   * @example
   * ```ts
   * const dpopJkt = await auth.keyThumbprint()
   * location.assign(auth.federatedLoginUrl('corp', returnTo, dpopJkt ? { dpopJkt } : {}))
   * ```
   */
  async keyThumbprint(): Promise<string | undefined> {
    return this.signer?.thumbprint()
  }

  /**
   * A DPoP proof by this client's key for one request (docs/protocol.md §15),
   * or undefined when binding is off. The realtime client signs its
   * handshake (`GET`) and `rt:auth` (`POST`) proofs here.
   *
   * @param htm - the request's method
   * @param htu - the request's URL (without query and fragment)
   * @param options - `accessToken` (its hash becomes `ath`), the server's `nonce`
   * @example
   * ```ts
   * const dpop = await auth.proof('GET', 'https://rt.example.com/socket.io/', { accessToken })
   * ```
   */
  async proof(
    htm: string,
    htu: string,
    options: { accessToken?: string; nonce?: string } = {},
  ): Promise<string | undefined> {
    return this.signer?.proof(htm, htu, options)
  }

  /**
   * `fetch` a call on the edge that opens a session (sign-up, email
   * verification) bound to this client's key: a `DPoP` proof for its method
   * and URL, the edge's latest nonce, and one retry when the edge answers
   * 400 `use_dpop_nonce`. Without binding it is a plain `fetch`.
   *
   * @param path - the edge path, e.g. `/auth/signup`
   * @param init - the request
   * @example
   * ```ts
   * const res = await auth.bindingFetch('/auth/signup', { method: 'POST', headers, body })
   * ```
   */
  async bindingFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const url = `${this.edgeUrl}${path}`
    const method = (init.method ?? 'GET').toUpperCase()
    const attempt = async () => {
      const headers = new Headers(init.headers)
      const proof = await this.signer?.proof(method, url, nonceOption(this.edgeNonce))
      if (proof !== undefined) headers.set('DPoP', proof)
      const res = await this.fetch(url, { ...init, method, headers })
      const nonce = res.headers.get('DPoP-Nonce')
      if (nonce) this.edgeNonce = nonce
      return res
    }
    const res = await attempt()
    if (!this.signer || res.status !== 400 || !res.headers.get('DPoP-Nonce')) return res
    const body = (await res
      .clone()
      .json()
      .catch(() => undefined)) as { error?: string } | undefined
    return body?.error === 'use_dpop_nonce' ? attempt() : res
  }

  /**
   * `fetch` with the session's access token: an edge route that takes it
   * (the session list, password change, passkey management, federated
   * linking), or any URL of your own services guarded by `createVerifier` or
   * the REST middleware. `Authorization: Bearer <token>`, or for a bound
   * session `Authorization: DPoP <token>` with a proof of this request
   * carrying the token's hash (RFC 9449 §7): a bound token sent as Bearer is
   * refused, so a stolen one is useless (docs/dpop.md).
   *
   * @param path - an edge path (`/auth/sessions`), or an absolute `http(s)` URL
   * @param init - the request
   * @throws ClientError `auth_required` when not logged in
   * @example
   * ```ts
   * const me = await auth.authorizedFetch('https://api.example.com/me').then((res) => res.json())
   * ```
   */
  async authorizedFetch(path: string, init: RequestInit = {}): Promise<Response> {
    const token = this.session?.accessToken
    if (!token) throw new ClientError('auth_required', 'not logged in')
    const url = /^https?:\/\//i.test(path) ? path : `${this.edgeUrl}${path}`
    const method = (init.method ?? 'GET').toUpperCase()
    const headers = new Headers(init.headers)
    if (this.signer && this.session?.jkt !== undefined) {
      headers.set('authorization', `DPoP ${token}`)
      headers.set('DPoP', await this.signer.proof(method, url, { accessToken: token }))
    } else {
      headers.set('authorization', `Bearer ${token}`)
    }
    return this.fetch(url, { ...init, method, headers })
  }

  /** The current session, if logged in. */
  current(): SessionInfo | undefined {
    return this.session
  }

  /** Log in with a username and password. @throws ClientError `invalid_credentials`, `rate_limited`, … */
  async login(username: string, password: string): Promise<SessionInfo> {
    return this.accept(await this.post('/auth/login', { username, password }))
  }

  /** Get a new access token with the refresh token (single-flight). @throws ClientError `invalid_grant` when the session is over */
  refresh(): Promise<SessionInfo> {
    this.inflight ??= (async () => {
      try {
        const body =
          this.mode === 'memory' ? { refresh_token: this.requireRefreshToken() } : undefined
        const session = this.accept(await this.post('/auth/refresh', body))
        this.refreshes++
        return session
      } finally {
        this.inflight = undefined
      }
    })()
    return this.inflight
  }

  /**
   * Resume a session after a page load (cookie mode): the cookie is sent, and
   * a live session yields a fresh access token.
   *
   * @returns the session, or undefined when there is none
   */
  async resume(): Promise<SessionInfo | undefined> {
    if (this.mode !== 'cookie') return this.session
    try {
      return await this.refresh()
    } catch (err) {
      // The cookie outlived its key (site data partly cleared): no session to resume.
      if (
        err instanceof ClientError &&
        (err.code === 'invalid_grant' ||
          err.code === 'invalid_request' ||
          err.code === 'invalid_dpop_proof')
      )
        return undefined
      throw err
    }
  }

  /** Log out: the edge revokes the session (and every socket of it). */
  async logout(): Promise<void> {
    const body =
      this.mode === 'memory' && this.refreshToken ? { refresh_token: this.refreshToken } : undefined
    try {
      if (body || this.mode === 'cookie') await this.post('/auth/logout', body, true)
    } finally {
      this.session = undefined
      this.refreshToken = undefined
      // The next session gets a new key.
      await this.signer?.reset()
    }
  }

  /**
   * Register a passkey for the logged-in user (docs/protocol.md §14): the
   * browser asks the user to create a discoverable credential for this site.
   *
   * @param name - what the passkey list shows. @default 'Passkey'
   * @throws ClientError `auth_required` when not logged in; the edge's codes; the browser's refusal as `invalid_request`
   */
  async registerPasskey(name?: string): Promise<{ id: string; name: string; createdAt: number }> {
    const options = await this.post('/auth/passkeys/register/options', {}, false, true)
    const response = await ceremony(() => startRegistration({ optionsJSON: options as never }))
    return (await this.post(
      '/auth/passkeys/register',
      { response, ...(name !== undefined && { name }) },
      false,
      true,
    )) as { id: string; name: string; createdAt: number }
  }

  /**
   * Log in with a passkey: without a username the browser offers every
   * passkey it holds for this site (discoverable credentials).
   *
   * @param username - narrow the choice to this user's passkeys
   * @throws ClientError `invalid_credentials`, `rate_limited`; the browser's refusal as `invalid_request`
   */
  async loginWithPasskey(username?: string): Promise<SessionInfo> {
    const { challengeId, options } = (await this.post(
      '/auth/passkeys/login/options',
      username === undefined ? {} : { username },
    )) as { challengeId: string; options: never }
    const response = await ceremony(() => startAuthentication({ optionsJSON: options }))
    return this.accept(await this.post('/auth/passkeys/login', { challengeId, response }))
  }

  /**
   * Create an account whose only way in is a new passkey (where `SIGNUP` allows).
   *
   * @param username - the new account's name
   * @param invite - the invite `SIGNUP=invite` needs
   * @throws ClientError `signup_closed`, `conflict`, `rate_limited`, …
   */
  async signupWithPasskey(username: string, invite?: string): Promise<SessionInfo> {
    const { challengeId, options } = (await this.post('/auth/passkeys/signup/options', {
      username,
    })) as { challengeId: string; options: never }
    const response = await ceremony(() => startRegistration({ optionsJSON: options }))
    return this.accept(
      await this.post('/auth/passkeys/signup', {
        username,
        challengeId,
        response,
        ...(invite !== undefined && { invite }),
      }),
    )
  }

  /**
   * Where a "Sign in with …" link or button sends the browser
   * (docs/protocol.md §14): the edge's start of a federated login with
   * `provider`, returning to `returnTo`, which must be one of the edge's
   * `ALLOWED_RETURN_URLS` exactly (else the edge answers 400). Back at
   * `returnTo`, call {@link EdgeAuth.completeFederatedLogin}.
   *
   * @param provider - a provider id from discovery's `edgegate_federation`
   * @param returnTo - the page to come back to
   * @param options - `dpopJkt`: a DPoP key's RFC 7638 thumbprint to bind the session to (RFC 9449 §10;
   *   {@link EdgeAuth.keyThumbprint} gives this client's)
   * @example
   * ```ts
   * location.assign(auth.federatedLoginUrl('corp', 'https://app.example.com/'))
   * ```
   */
  federatedLoginUrl(
    provider: string,
    returnTo: string,
    options: { dpopJkt?: string } = {},
  ): string {
    const url = new URL(`${this.edgeUrl}/auth/federated/${encodeURIComponent(provider)}/start`)
    url.searchParams.set('return_to', returnTo)
    if (options.dpopJkt !== undefined) url.searchParams.set('dpop_jkt', options.dpopJkt)
    return url.href
  }

  /**
   * Link an upstream account to the logged-in user: the edge answers with
   * the provider's URL (and sets the flow cookie in this browser, so only
   * this browser can finish it); go there, and the edge brings the browser
   * back to `returnTo`.
   *
   * @param provider - a provider id from discovery's `edgegate_federation`
   * @param returnTo - the page to come back to (one of `ALLOWED_RETURN_URLS`)
   * @returns the URL to navigate to
   * @throws ClientError `auth_required` when not logged in; the edge's codes (`invalid_request`, `conflict`, …)
   */
  async federatedLinkUrl(provider: string, returnTo: string): Promise<string> {
    const { url } = (await this.post(
      `/auth/federated/${encodeURIComponent(provider)}/link`,
      { return_to: returnTo },
      false,
      true,
    )) as { url: string }
    return url
  }

  /**
   * The page's side of the redirect back from a federated login: an
   * `?error=CODE` on `location` is thrown as that code (the caller may then
   * remove it from the address bar); otherwise the session is resumed
   * through the refresh cookie the edge set.
   *
   * @param location - the page's URL. @default globalThis.location.href
   * @returns the session, or undefined when there is none
   * @throws ClientError with the edge's code (`signup_closed`, `invalid_grant`, `unavailable`, …)
   */
  async completeFederatedLogin(location?: string): Promise<SessionInfo | undefined> {
    const href = location ?? (globalThis as { location?: { href: string } }).location?.href
    const error = href ? new URL(href).searchParams.get('error') : null
    if (error !== null) {
      // Only a contract-shaped code is echoed; anything else in the URL is someone else's text.
      const code = /^[a-z_]{1,40}$/.test(error) ? error : 'server_error'
      throw new ClientError(code as never, 'federated login failed')
    }
    return this.resume()
  }

  private requireRefreshToken(): string {
    if (!this.refreshToken) throw new ClientError('auth_required', 'not logged in')
    return this.refreshToken
  }

  private accept(body: unknown): SessionInfo {
    const response = body as TokenResponse | CookieTokenResponse
    if (typeof response?.access_token !== 'string')
      throw new ClientError('server_error', 'no access token in the response')
    if ('refresh_token' in response && typeof response.refresh_token === 'string')
      this.refreshToken = response.refresh_token
    const claims = decodeJwt(response.access_token)
    this.session = {
      accessToken: response.access_token,
      sub: String(claims.sub),
      sid: String(claims.sid),
      name: String(claims.name),
      scope: String(claims.scope ?? ''),
      rooms: Array.isArray(claims.rooms) ? claims.rooms.map(String) : [],
      exp: Number(claims.exp),
    }
    const cnf = claims.cnf as { jkt?: unknown } | undefined
    if (typeof cnf?.jkt === 'string') this.session.jkt = cnf.jkt
    return this.session
  }

  private async post(
    path: string,
    body: unknown,
    allowEmpty = false,
    authorized = false,
  ): Promise<unknown> {
    let res: Response
    const init: RequestInit = {
      method: 'POST',
      credentials: this.mode === 'cookie' ? 'include' : 'omit',
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...(this.mode === 'cookie' && { 'x-edgegate-refresh': 'cookie' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }
    try {
      res = authorized
        ? await this.authorizedFetch(path, init)
        : BINDING_PATHS.has(path)
          ? await this.bindingFetch(path, init)
          : await this.fetch(`${this.edgeUrl}${path}`, init)
    } catch (err) {
      throw new ClientError('network', `edge unreachable: ${(err as Error).message}`)
    }
    if (res.status === 204 && allowEmpty) return undefined
    const payload = (await res.json().catch(() => undefined)) as
      { error?: string; error_description?: string } | undefined
    if (!res.ok) {
      const retry = Number(res.headers.get('retry-after'))
      throw new ClientError(
        (payload?.error ?? 'server_error') as never,
        payload?.error_description ?? `HTTP ${res.status}`,
        Number.isFinite(retry) && retry > 0 ? retry * 1000 : undefined,
      )
    }
    return payload
  }
}

function nonceOption(nonce: string | undefined): { nonce?: string } {
  return nonce === undefined ? {} : { nonce }
}

/** Run a browser WebAuthn ceremony; a refusal or cancel by the browser or user becomes a ClientError. */
async function ceremony<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    throw new ClientError('invalid_request', `passkey ceremony failed: ${(err as Error).name}`)
  }
}
