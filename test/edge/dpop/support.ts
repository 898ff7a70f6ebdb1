/**
 * The DPoP tests' edge: the real app over the test worker's real D1 and
 * Durable Objects, with DPoP variables laid over its bindings.
 */
import { env } from 'cloudflare:workers'
import { expect } from 'vitest'
import type { TokenResponse } from '../../../shared/claims.ts'
import { signProof, type ProofFields, type ProofKey } from '../../support/dpop-proofs.ts'
import { accountsEdge, type AccountsEdge } from '../accounts/support.ts'
import { createUser, type TestUser } from '../support.ts'

/** Where the test edge's routes are: a proof's `htu` names these. */
export const EDGE = 'http://edge.test'

/** An edge configured with `vars`, and DPoP helpers. */
export interface DpopEdge extends AccountsEdge {
  /** POST JSON with a `DPoP` header when `proof` is given. */
  postWith(path: string, body: unknown, proof?: string): Promise<Response>
  /** A good proof by `key` for POST `path`. */
  proof(key: ProofKey, path: string, fields?: Partial<ProofFields>): Promise<string>
  /** Log in (`DPoP` when a key is given) and expect 200. */
  loginOk(user: TestUser, key?: ProofKey): Promise<TokenResponse>
  /** Refresh (`DPoP` when a key is given). */
  refresh(token: string, key?: ProofKey): Promise<Response>
}

/**
 * @param vars - e.g. `{ DPOP: 'required' }`
 */
export function dpopEdge(vars: Record<string, string> = {}): DpopEdge {
  const edge = accountsEdge(vars)
  const postWith = (path: string, body: unknown, proof?: string) =>
    edge.post(path, body, proof === undefined ? {} : { dpop: proof })
  const proof = (key: ProofKey, path: string, fields: Partial<ProofFields> = {}) =>
    signProof(key, { htm: 'POST', htu: `${EDGE}${path}`, ...fields })
  return {
    ...edge,
    postWith,
    proof,
    async loginOk(user, key) {
      const res = await postWith(
        '/auth/login',
        { username: user.username, password: user.password },
        key && (await proof(key, '/auth/login')),
      )
      expect(res.status, await res.clone().text()).toBe(200)
      return (await res.json()) as TokenResponse
    },
    async refresh(token, key) {
      return postWith(
        '/auth/refresh',
        { refresh_token: token },
        key && (await proof(key, '/auth/refresh')),
      )
    },
  }
}

export { createUser }

/** The session row's binding and state, straight from D1. */
export function sessionRow(sid: string) {
  return env.DB.prepare('SELECT jkt, revoked_at, revoked_why FROM sessions WHERE sid = ?')
    .bind(sid)
    .first<{ jkt: string | null; revoked_at: number | null; revoked_why: string | null }>()
}

/** Sessions a user holds, live or not. */
export async function sessionCount(sub: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM sessions WHERE sub = ?')
    .bind(sub)
    .first<{ n: number }>()
  return row?.n ?? 0
}
