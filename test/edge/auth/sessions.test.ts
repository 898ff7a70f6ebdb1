/**
 * edge/auth/sessions.ts as a unit, against the real D1 under workerd with the
 * real migrations: session start, refresh-token rotation, reuse detection,
 * revocation and disabling, each with an explicit clock.
 */
import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import {
  createSession,
  disableUser,
  hashRefreshToken,
  revocationUntil,
  revokeSession,
  rotateRefreshToken,
  sessionOfRefreshToken,
} from '../../../edge/auth/sessions.ts'
import { findUserBySub } from '../../../edge/auth/users.ts'
import { createUser } from '../support.ts'

const NOW = 1_763_800_000
const TTL = 300
const SESSION_TTL = 3600
/** Session options: no cap in reach (these tests hold a few sessions each). */
const CREATE = { sessionTtlSeconds: SESSION_TTL, maxSessions: 100, accessTokenTtlSeconds: TTL }
/** Rotation options: no refresh limit in reach. */
const ROTATE = { accessTokenTtlSeconds: TTL, limitPerSession: 1000 }

async function userRow() {
  const { sub } = await createUser()
  const row = await findUserBySub(env.DB, sub)
  if (!row) throw new Error('test user not found')
  return row
}

async function revocations(kind: string, id: string) {
  const { results } = await env.DB.prepare(
    'SELECT kind, id, at, until FROM revocations WHERE kind = ? AND id = ?',
  )
    .bind(kind, id)
    .all()
  return results
}

describe('edge sessions', () => {
  it('starts a session with an absolute expiry and stores only the hash of its refresh token', async () => {
    const user = await userRow()
    const grant = await createSession(env.DB, user, NOW, CREATE)
    expect(grant).toMatchObject({ expiresAt: NOW + SESSION_TTL, user: { sub: user.sub } })
    const stored = await env.DB.prepare('SELECT token_hash FROM refresh_tokens WHERE sid = ?')
      .bind(grant.sid)
      .first<{ token_hash: string }>()
    expect(stored?.token_hash).toBe(await hashRefreshToken(grant.refreshToken))
    expect(stored?.token_hash).not.toBe(grant.refreshToken)
    expect(await sessionOfRefreshToken(env.DB, grant.refreshToken)).toBe(grant.sid)
  })

  it('rotates a refresh token into a new one of the same session, never extending it', async () => {
    const user = await userRow()
    const grant = await createSession(env.DB, user, NOW, CREATE)
    const next = await rotateRefreshToken(env.DB, grant.refreshToken, NOW + 10, ROTATE)
    expect(next).toMatchObject({ sid: grant.sid, expiresAt: grant.expiresAt })
    expect(next.refreshToken).not.toBe(grant.refreshToken)
  })

  it('treats a spent token as reuse: invalid_grant, the session revoked, a session event recorded', async () => {
    const user = await userRow()
    const grant = await createSession(env.DB, user, NOW, CREATE)
    const next = await rotateRefreshToken(env.DB, grant.refreshToken, NOW + 10, ROTATE)
    await expect(
      rotateRefreshToken(env.DB, grant.refreshToken, NOW + 20, ROTATE),
    ).rejects.toMatchObject({
      code: 'invalid_grant',
    })
    await expect(
      rotateRefreshToken(env.DB, next.refreshToken, NOW + 21, ROTATE),
    ).rejects.toMatchObject({
      code: 'invalid_grant',
    })
    expect(await revocations('session', grant.sid)).toEqual([
      { kind: 'session', id: grant.sid, at: NOW + 20, until: revocationUntil(NOW + 20, TTL) },
    ])
  })

  it('refuses an unknown token and a token of an expired session with invalid_grant', async () => {
    const user = await userRow()
    await expect(rotateRefreshToken(env.DB, 'not-a-token', NOW, ROTATE)).rejects.toMatchObject({
      code: 'invalid_grant',
    })
    const grant = await createSession(env.DB, user, NOW, CREATE)
    await expect(
      rotateRefreshToken(env.DB, grant.refreshToken, NOW + SESSION_TTL, ROTATE),
    ).rejects.toMatchObject({
      code: 'invalid_grant',
    })
  })

  it('revokes a session once: the second call reports it was not live and records no second event', async () => {
    const user = await userRow()
    const grant = await createSession(env.DB, user, NOW, CREATE)
    expect(await revokeSession(env.DB, grant.sid, NOW + 1, 'logout', TTL)).toBe(true)
    expect(await revokeSession(env.DB, grant.sid, NOW + 2, 'logout', TTL)).toBe(false)
    expect(await revocations('session', grant.sid)).toHaveLength(1)
    await expect(
      rotateRefreshToken(env.DB, grant.refreshToken, NOW + 3, ROTATE),
    ).rejects.toMatchObject({
      code: 'invalid_grant',
    })
  })

  it('disabling a user revokes every session and records a user event', async () => {
    const user = await userRow()
    const a = await createSession(env.DB, user, NOW, CREATE)
    const b = await createSession(env.DB, user, NOW, CREATE)
    await disableUser(env.DB, user.sub, NOW + 5, TTL)
    for (const grant of [a, b]) {
      await expect(
        rotateRefreshToken(env.DB, grant.refreshToken, NOW + 6, ROTATE),
      ).rejects.toMatchObject({
        code: 'invalid_grant',
      })
    }
    expect(await revocations('user', user.sub)).toEqual([
      { kind: 'user', id: user.sub, at: NOW + 5, until: revocationUntil(NOW + 5, TTL) },
    ])
  })
})
