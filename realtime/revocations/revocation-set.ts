import type { RevocationEvent, RevocationKind } from '../../shared/claims.ts'
import type { RevocableIdentity } from '../identity.ts'
import { unhandledKind } from './kinds.ts'

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
    const kind = event.kind
    switch (kind) {
      case 'session':
        return later(this.sessions, event)
      case 'key':
        return later(this.keys, event)
      case 'client':
        return later(this.clients, event)
      case 'user': {
        const prev = this.users.get(event.id)
        this.users.set(event.id, {
          at: Math.max(event.at, prev?.at ?? 0),
          until: Math.max(event.until, prev?.until ?? 0),
        })
        return true
      }
      default:
        return unhandledKind(kind)
    }
  }

  /**
   * Which kind of event revokes an identity at `nowSeconds`, if any, whoever
   * issued it. Connections are checked through `revokedBy` (./check.ts),
   * which adds the issuer rule; this is the store's lookup.
   */
  check(identity: RevocableIdentity, nowSeconds: number): RevocationKind | undefined {
    const { auth } = identity
    const s = this.sessions.get(auth.sid)
    if (s !== undefined && s > nowSeconds) return 'session'
    const k = this.keys.get(auth.kid)
    if (k !== undefined && k > nowSeconds) return 'key'
    const u = this.users.get(auth.sub)
    if (u !== undefined && u.until > nowSeconds && identity.iat <= u.at) return 'user'
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

/** Keep the later `until` of an id's events. */
function later(map: Map<string, number>, event: Pick<RevocationEvent, 'id' | 'until'>): true {
  map.set(event.id, Math.max(event.until, map.get(event.id) ?? 0))
  return true
}
