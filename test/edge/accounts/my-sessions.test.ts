import { describe, expect, it } from 'vitest'
import { expectError, freshAddress, sidOf, uniqueName } from '../support.ts'
import { accountsEdge, strongPassword } from './support.ts'

const edge = accountsEdge({ SIGNUP: 'open', MAILER: 'outbox' })

const bearer = (access: string) => ({ authorization: `Bearer ${access}` })

describe('GET /auth/sessions and DELETE /auth/sessions/:sid', () => {
  it('lists the live sessions with method, times, user agent and which is current', async () => {
    const username = uniqueName()
    const password = strongPassword()
    const phone = await edge.signupOk({ username, password })
    const laptopRes = await edge.post(
      '/auth/login',
      { username, password },
      { 'user-agent': 'Laptop/2.0', 'cf-connecting-ip': freshAddress() },
    )
    const laptop = (await laptopRes.json()) as { access_token: string }
    const res = await edge.call('/auth/sessions', { headers: bearer(laptop.access_token) })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const { sessions } = (await res.json()) as { sessions: Record<string, unknown>[] }
    expect(sessions).toHaveLength(2)
    const current = sessions.find((s) => s.current)!
    expect(current).toMatchObject({
      sid: sidOf(laptop as never),
      method: 'password',
      userAgent: 'Laptop/2.0',
    })
    expect(Object.keys(current).sort()).toEqual(
      ['createdAt', 'current', 'lastUsedAt', 'method', 'sid', 'userAgent'].sort(),
    )
    const other = sessions.find((s) => !s.current)!
    expect(other.sid).toBe(sidOf(phone))
    expect(other).not.toHaveProperty('userAgent')
    expect(typeof other.createdAt).toBe('number')
  })

  it("revokes one of the caller's sessions (204, its refresh token dead), never another user's (404)", async () => {
    const password = strongPassword()
    const alice = uniqueName('alice')
    const a1 = await edge.signupOk({ username: alice, password })
    const a2 = (await (await edge.post('/auth/login', { username: alice, password })).json()) as {
      access_token: string
      refresh_token: string
    }
    const bob = await edge.signupOk({ username: uniqueName('bob'), password: strongPassword() })

    await expectError(
      await edge.call(`/auth/sessions/${sidOf(bob)}`, {
        method: 'DELETE',
        headers: bearer(a1.access_token),
      }),
      404,
      'not_found',
    )
    expect((await edge.post('/auth/refresh', { refresh_token: bob.refresh_token })).status).toBe(
      200,
    )

    const del = await edge.call(`/auth/sessions/${sidOf(a2 as never)}`, {
      method: 'DELETE',
      headers: bearer(a1.access_token),
    })
    expect(del.status).toBe(204)
    await expectError(
      await edge.post('/auth/refresh', { refresh_token: a2.refresh_token }),
      401,
      'invalid_grant',
    )
    const again = await edge.call(`/auth/sessions/${sidOf(a2 as never)}`, {
      method: 'DELETE',
      headers: bearer(a1.access_token),
    })
    await expectError(again, 404, 'not_found')
    const { sessions } = (await (
      await edge.call('/auth/sessions', { headers: bearer(a1.access_token) })
    ).json()) as { sessions: { sid: string }[] }
    expect(sessions.map((s) => s.sid)).toEqual([sidOf(a1)])
  })

  it('is 401 without a bearer, with a garbage one, and with the token of a revoked session', async () => {
    await expectError(await edge.call('/auth/sessions'), 401, 'unauthorized')
    await expectError(
      await edge.call('/auth/sessions', { headers: bearer('abc.def.ghi') }),
      401,
      'unauthorized',
    )
    const tokens = await edge.signupOk({ username: uniqueName(), password: strongPassword() })
    await edge.call(`/auth/sessions/${sidOf(tokens)}`, {
      method: 'DELETE',
      headers: bearer(tokens.access_token),
    })
    await expectError(
      await edge.call('/auth/sessions', { headers: bearer(tokens.access_token) }),
      401,
      'unauthorized',
    )
  })
})
