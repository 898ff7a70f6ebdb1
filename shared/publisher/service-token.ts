import { PublisherError, errorFromResponse } from './errors.ts'

/** Options of {@link ServiceTokenSource}. */
export interface ServiceTokenSourceOptions {
  /** The edge's base URL. */
  edgeUrl: string
  clientId: string
  clientSecret: string
  /** Scopes to ask for. @default all the client holds */
  scope?: string
  fetch: typeof globalThis.fetch
  /** ms clock. */
  now: () => number
  /** Per-request time limit, ms. */
  timeoutMs: number
}

/**
 * Service tokens from the edge (docs/protocol.md §8): the client-credentials
 * grant (RFC 6749 §4.4) with HTTP Basic client authentication (§2.3.1),
 * kept until a fifth of their life (at most 60 s) is left, renewed by one
 * request however many callers ask at once. Nothing Node-only: it runs in
 * a Worker too.
 */
export class ServiceTokenSource {
  private token: { value: string; renewAt: number } | undefined
  private inflight: Promise<string> | undefined
  private readonly o: ServiceTokenSourceOptions

  constructor(options: ServiceTokenSourceOptions) {
    this.o = options
  }

  /** A valid service token: the cached one, or a new one. */
  get(): Promise<string> {
    if (this.token && this.o.now() < this.token.renewAt) return Promise.resolve(this.token.value)
    this.inflight ??= this.fetchToken().finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  /** Forget the cached token (after the server refused it as expired). */
  invalidate(token: string): void {
    if (this.token?.value === token) this.token = undefined
  }

  private async fetchToken(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials' })
    if (this.o.scope) form.set('scope', this.o.scope)
    // RFC 6749 §2.3.1: each part form-encoded, then Basic.
    const basic = btoa(`${formEncode(this.o.clientId)}:${formEncode(this.o.clientSecret)}`)
    const res = await this.o.fetch(`${this.o.edgeUrl.replace(/\/+$/, '')}/auth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${basic}`,
      },
      body: form.toString(),
      signal: AbortSignal.timeout(this.o.timeoutMs),
    })
    if (!res.ok) throw await errorFromResponse(res, 'POST /auth/token')
    const body = (await res.json()) as { access_token?: unknown; expires_in?: unknown }
    if (
      typeof body.access_token !== 'string' ||
      typeof body.expires_in !== 'number' ||
      !(body.expires_in > 0)
    ) {
      throw new PublisherError('server_error', 'POST /auth/token: not a token response', {
        status: res.status,
      })
    }
    const lead = Math.min(60, body.expires_in / 5)
    this.token = {
      value: body.access_token,
      renewAt: this.o.now() + (body.expires_in - lead) * 1000,
    }
    return body.access_token
  }
}

/** application/x-www-form-urlencoded encoding of one value (spaces as +). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}
