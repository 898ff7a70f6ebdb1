/**
 * Sessions as a unit: the indexes a revocation uses, the order of a kick
 * (rt:error, then disconnect), in-band token replacement, and the expiry
 * deadline, on fake timers and an injected clock. The socket is a small
 * stand-in recording what Sessions does to it; the live-socket behaviour is
 * covered by revocation.test.ts and expiry.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { VerifiedToken } from '../../../realtime/auth/token-verifier.ts'
import { Sessions } from '../../../realtime/session/sessions.ts'
import { writeIdentity } from '../../../realtime/admission/write-identity.ts'
import type { RealtimeSocket } from '../../../realtime/types.ts'
import { AppError } from '../../../shared/errors.ts'

const T0 = 1_763_800_000

/** What a stand-in socket was told, in order. */
type Call = ['emit', string, unknown] | ['disconnect'] | ['join', string[]] | ['leave', string]

function standIn(id: string) {
  const calls: Call[] = []
  const rooms = new Set<string>([id])
  const socket = {
    id,
    connected: true,
    data: {},
    rooms,
    emit(event: string, payload: unknown) {
      calls.push(['emit', event, payload])
      return true
    },
    disconnect() {
      calls.push(['disconnect'])
      socket.connected = false
      return socket
    },
    join(names: string[]) {
      calls.push(['join', names])
      for (const n of names) rooms.add(n)
    },
    leave(name: string) {
      calls.push(['leave', name])
      rooms.delete(name)
    },
  }
  return { socket: socket as unknown as RealtimeSocket, calls }
}

function verified(claims: Partial<VerifiedToken['claims']> = {}, kid = 'k-1'): VerifiedToken {
  return {
    kid,
    token: `token-${Math.random()}`,
    claims: {
      iss: 'https://auth.example.test',
      aud: 'realtime',
      sub: 'u-1',
      sid: 's-1',
      jti: 'j-1',
      name: 'Ada',
      iat: T0,
      nbf: T0,
      exp: T0 + 300,
      scope: 'chat:read',
      rooms: ['lobby', 'team:*'],
      ...claims,
    },
  }
}

let clockMs = T0 * 1000
let sessions: Sessions
const kicks: string[] = []

beforeEach(() => {
  vi.useFakeTimers({ now: T0 * 1000 })
  clockMs = T0 * 1000
  kicks.length = 0
  sessions = new Sessions({
    clockToleranceSeconds: 5,
    now: () => clockMs,
    onKick: (code) => kicks.push(code),
  })
})

afterEach(() => {
  sessions.close()
  vi.useRealTimers()
})

/** Admit a stand-in as the handshake and connection handler do. */
function admit(id: string, token: VerifiedToken) {
  const s = standIn(id)
  writeIdentity(s.socket.data, token)
  sessions.holdToken(s.socket, token.token)
  sessions.attach(s.socket)
  return s
}

describe('Sessions', () => {
  it('joins the server rooms of the identity written by the handshake and keeps its token', () => {
    const token = verified()
    const { socket, calls } = admit('a', token)
    expect(calls).toEqual([['join', ['user:u-1', 'session:s-1']]])
    expect(sessions.currentToken(socket)).toBe(token.token)
  })

  it('revokes a session: only its sockets, each told token_revoked before the disconnect', () => {
    const a = admit('a', verified({ sid: 's-1' }))
    const b = admit('b', verified({ sid: 's-2' }))
    expect(sessions.revoke({ kind: 'session', id: 's-1', at: T0 })).toBe(1)
    expect(a.calls.slice(1)).toEqual([
      ['emit', 'rt:error', { code: 'token_revoked', message: expect.any(String) }],
      ['disconnect'],
    ])
    expect(b.calls.slice(1)).toEqual([])
    expect(kicks).toEqual(['token_revoked'])
  })

  it('revokes a user only for tokens issued at or before the event', () => {
    const old = admit('a', verified({ sid: 's-1', iat: T0 }))
    const fresh = admit('b', verified({ sid: 's-2', iat: T0 + 10 }))
    expect(sessions.revoke({ kind: 'user', id: 'u-1', at: T0 + 5 })).toBe(1)
    expect(old.socket.connected).toBe(false)
    expect(fresh.socket.connected).toBe(true)
  })

  it('revokes a key across users, and finds sockets by their new kid after an in-band token', () => {
    const a = admit('a', verified({ sub: 'u-1', sid: 's-1' }, 'k-1'))
    const b = admit('b', verified({ sub: 'u-2', sid: 's-2' }, 'k-1'))
    sessions.replaceToken(b.socket, verified({ sub: 'u-2', sid: 's-2' }, 'k-2'))
    expect(sessions.revoke({ kind: 'key', id: 'k-1', at: T0 })).toBe(1)
    expect(a.socket.connected).toBe(false)
    expect(sessions.revoke({ kind: 'key', id: 'k-2', at: T0 })).toBe(1)
    expect(b.socket.connected).toBe(false)
  })

  it('an in-band token replaces the identity and the token, and leaves rooms it no longer allows', () => {
    const { socket, calls } = admit('a', verified())
    socket.rooms.add('lobby')
    socket.rooms.add('team:red')
    const next = verified({ rooms: ['team:*'], exp: T0 + 600 })
    sessions.replaceToken(socket, next)
    expect(socket.data.auth.rooms).toEqual(['team:*'])
    expect(socket.data.auth.exp).toBe(T0 + 600)
    expect(sessions.currentToken(socket)).toBe(next.token)
    expect(calls.filter((c) => c[0] === 'leave')).toEqual([['leave', 'lobby']])
  })

  it('forgets a detached socket: a later revocation finds nothing', () => {
    const { socket } = admit('a', verified())
    sessions.detach(socket)
    expect(sessions.revoke({ kind: 'session', id: 's-1', at: T0 })).toBe(0)
    expect(sessions.all()).toEqual([])
  })

  it('sends rt:expiring before exp and disconnects with token_expired after exp plus the tolerance', () => {
    const { calls } = admit('a', verified({ exp: T0 + 60 }))
    clockMs = (T0 + 59) * 1000
    vi.advanceTimersByTime(59_000)
    expect(calls.some((c) => c[0] === 'emit' && c[1] === 'rt:expiring')).toBe(true)
    expect(calls.some((c) => c[0] === 'disconnect')).toBe(false)
    clockMs = (T0 + 66) * 1000
    vi.advanceTimersByTime(7_000)
    expect(calls.slice(-2)).toEqual([
      ['emit', 'rt:error', { code: 'token_expired', message: expect.any(String) }],
      ['disconnect'],
    ])
  })

  it('kick does nothing to a socket that is already gone', () => {
    const { socket, calls } = admit('a', verified())
    ;(socket as { connected: boolean }).connected = false
    sessions.kick(socket, new AppError('unavailable', 'node draining'))
    expect(calls).toEqual([['join', ['user:u-1', 'session:s-1']]])
    expect(kicks).toEqual([])
  })
})
