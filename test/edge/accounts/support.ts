/**
 * The accounts routes under a configuration of their own: the real app and
 * the real D1 and Durable Objects of the test worker, with `vars` laid over
 * its bindings (the worker's configuration is parsed once per env object).
 * Every call waits for the request's `waitUntil` work (mail), so a test can
 * read the outbox right after.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import { app } from '../../../edge/app.ts'
import type { TokenResponse } from '../../../shared/claims.ts'
import { ADMIN_TOKEN, freshAddress } from '../support.ts'

/** A configured edge: requests and the helpers the account tests share. */
export interface AccountsEdge {
  env: Env
  /** Any request; waits for the request's background work before resolving. */
  call(path: string, init?: RequestInit): Promise<Response>
  /** POST JSON from `address` (a fresh one by default). */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>
  /** Sign up and expect 201; returns the token response. */
  signupOk(body: Record<string, unknown>): Promise<TokenResponse>
  /** The outbox, newest first, through `GET /dev/outbox`. */
  outbox(): Promise<OutboxMessage[]>
  /** The token in the newest mail of `kind` to `to`, read from its link. */
  mailToken(to: string, kind: 'verify' | 'reset'): Promise<string>
}

/** A mail as the outbox lists it. */
export interface OutboxMessage {
  id: string
  to: string
  subject: string
  text: string
  kind: string
  createdAt: number
}

/**
 * An edge with `vars` over the test worker's bindings.
 *
 * @param vars - e.g. `{ SIGNUP: 'open', MAILER: 'outbox' }`
 */
export function accountsEdge(vars: Record<string, string>): AccountsEdge {
  const configured = { ...env, ...vars } as unknown as Env
  const call = async (path: string, init?: RequestInit) => {
    const ctx = createExecutionContext()
    const res = await app.fetch(new Request(`http://edge.test${path}`, init), configured, ctx)
    await waitOnExecutionContext(ctx)
    return res
  }
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    call(path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'cf-connecting-ip': freshAddress(),
        ...headers,
      },
      body: JSON.stringify(body),
    })
  const outbox = async () => {
    const res = await call('/dev/outbox', { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(res.status).toBe(200)
    return ((await res.json()) as { messages: OutboxMessage[] }).messages
  }
  return {
    env: configured,
    call,
    post,
    outbox,
    async signupOk(body) {
      const res = await post('/auth/signup', body)
      expect(res.status, await res.clone().text()).toBe(201)
      return (await res.json()) as TokenResponse
    },
    async mailToken(to, kind) {
      const mail = (await outbox()).find((m) => m.to === to && m.kind === kind)
      expect(mail, `a ${kind} mail to ${to}`).toBeDefined()
      const match = new RegExp(`#${kind}=([A-Za-z0-9_-]+)`).exec(mail!.text)
      expect(match).not.toBeNull()
      return match![1]!
    },
  }
}

/** A password no rule refuses. */
export function strongPassword(): string {
  return `Tr4il-${crypto.randomUUID()}`
}

/** A unique email address. */
export function uniqueEmail(): string {
  return `u-${crypto.randomUUID().slice(0, 12)}@example.test`
}
