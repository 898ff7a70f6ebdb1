import type { AccessClaims, RevocationEvent, RevocationKind } from '../../shared/claims.ts'

/**
 * What a revocation check needs from a token: three of its claims, the `kid`
 * that signed it and, for another issuer's token, that issuer: the edge's
 * events apply to the edge's tokens only (docs/protocol.md §12).
 */
export type RevocationSubject = Pick<AccessClaims, 'sub' | 'sid' | 'iat'> & {
  kid: string
  iss?: string
}

/**
 * Revocation events in force (docs/protocol.md §6), checked on every handshake and
 * every message. A `session` event revokes its `sid`, a `key` event its
 * `kid`, a `user` event every token of its `sub` issued at or before `at`.
 * Events are forgotten after `until`, when every token they cover has
 * expired, so memory is bounded by the events of one token lifetime.
 */
export class RevocationSet {
  private readonly sessions = new Map<string, number>()
  private readonly keys = new Map<string, number>()
  private readonly users = new Map<string, { at: number; until: number }>()
  /** `client` events (docs/protocol.md §6, v1.1): service clients whose tokens are refused. */
  private readonly clients = new Map<string, number>()

  /**
   * Add an event. Returns false for one already past its `until`.
   *
   * @param event - the event
   * @param nowSeconds - Unix seconds
   */
  add(event: Pick<RevocationEvent, 'kind' | 'id' | 'at' | 'until'>, nowSeconds: number): boolean {
    if (event.until <= nowSeconds) return false
    if (event.kind === 'session')
      this.sessions.set(event.id, Math.max(event.until, this.sessions.get(event.id) ?? 0))
    else if (event.kind === 'key')
      this.keys.set(event.id, Math.max(event.until, this.keys.get(event.id) ?? 0))
    else if (event.kind === 'client')
      this.clients.set(event.id, Math.max(event.until, this.clients.get(event.id) ?? 0))
    else {
      const prev = this.users.get(event.id)
      this.users.set(event.id, {
        at: Math.max(event.at, prev?.at ?? 0),
        until: Math.max(event.until, prev?.until ?? 0),
      })
    }
    return true
  }

  /**
   * Which kind of event revokes `token` at `nowSeconds`, if any.
   */
  check(token: RevocationSubject, nowSeconds: number): RevocationKind | undefined {
    const s = this.sessions.get(token.sid)
    if (s !== undefined && s > nowSeconds) return 'session'
    const k = this.keys.get(token.kid)
    if (k !== undefined && k > nowSeconds) return 'key'
    const u = this.users.get(token.sub)
    if (u !== undefined && u.until > nowSeconds && token.iat <= u.at) return 'user'
    return undefined
  }

  /**
   * Which kind of event revokes a service token (docs/protocol.md §8) at
   * `nowSeconds`, if any: its client, or the key that signed it.
   */
  checkClient(
    token: { clientId: string; kid: string },
    nowSeconds: number,
  ): 'client' | 'key' | undefined {
    const c = this.clients.get(token.clientId)
    if (c !== undefined && c > nowSeconds) return 'client'
    const k = this.keys.get(token.kid)
    if (k !== undefined && k > nowSeconds) return 'key'
    return undefined
  }

  /** Drop events past their `until`. */
  prune(nowSeconds: number): void {
    for (const [id, until] of this.sessions) if (until <= nowSeconds) this.sessions.delete(id)
    for (const [id, until] of this.keys) if (until <= nowSeconds) this.keys.delete(id)
    for (const [id, u] of this.users) if (u.until <= nowSeconds) this.users.delete(id)
    for (const [id, until] of this.clients) if (until <= nowSeconds) this.clients.delete(id)
  }

  /** Events held. */
  get size(): number {
    return this.sessions.size + this.keys.size + this.users.size + this.clients.size
  }
}
