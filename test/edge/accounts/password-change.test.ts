import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { expectError, freshAddress, sidOf, uniqueName } from '../support.ts'
import { accountsEdge, strongPassword } from './support.ts'

const edge = accountsEdge({ SIGNUP: 'open', MAILER: 'outbox' })

function change(access: string, body: unknown, address = freshAddress()) {
  return edge.post('/auth/password', body, {
    authorization: `Bearer ${access}`,
    'cf-connecting-ip': address,
  })
}

describe('POST /auth/password', () => {
  it("keeps the caller's session and revokes the others, each with a session event", async () => {
    const username = uniqueName()
    const password = strongPassword()
    const mine = await edge.signupOk({ username, password })
    const other = (await (await edge.post('/auth/login', { username, password })).json()) as {
      access_token: string
      refresh_token: string
    }
    const next = strongPassword()
    expect(
      (await change(mine.access_token, { current_password: password, new_password: next })).status,
    ).toBe(204)

    const { results } = await env.DB.prepare('SELECT kind, id FROM revocations WHERE id IN (?, ?)')
      .bind(sidOf(mine), sidOf(other as never))
      .all()
    expect(results).toEqual([{ kind: 'session', id: sidOf(other as never) }])
    await expectError(
      await edge.post('/auth/refresh', { refresh_token: other.refresh_token }),
      401,
      'invalid_grant',
    )
    expect((await edge.post('/auth/refresh', { refresh_token: mine.refresh_token })).status).toBe(
      200,
    )
    expect((await edge.post('/auth/login', { username, password: next })).status).toBe(200)
    await expectError(
      await edge.post('/auth/login', { username, password }),
      401,
      'invalid_credentials',
    )
  })

  it('refuses a wrong current password (401 invalid_credentials) and counts it: the 6th is 429', async () => {
    const username = uniqueName()
    const password = strongPassword()
    const tokens = await edge.signupOk({ username, password })
    const address = freshAddress()
    const statuses: number[] = []
    for (let i = 0; i < 6; i++) {
      const res = await change(
        tokens.access_token,
        { current_password: `wrong-${i}-password`, new_password: strongPassword() },
        address,
      )
      statuses.push(res.status)
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429])
  })

  it('refuses a weak new password by rule, and the old one still works', async () => {
    const username = uniqueName()
    const password = strongPassword()
    const tokens = await edge.signupOk({ username, password })
    const error = await expectError(
      await change(tokens.access_token, { current_password: password, new_password: username }),
      400,
      'weak_password',
    )
    expect(error.error_description).toMatch(/username/)
    expect((await edge.post('/auth/login', { username, password })).status).toBe(200)
  })

  it('needs a live access token: none, a forged one, or one of a revoked session is 401', async () => {
    const body = { current_password: 'x'.repeat(10), new_password: strongPassword() }
    await expectError(await edge.post('/auth/password', body), 401, 'unauthorized')
    await expectError(
      await edge.post('/auth/password', body, { authorization: 'Bearer not.a.jwt' }),
      401,
      'unauthorized',
    )
    const username = uniqueName()
    const password = strongPassword()
    const tokens = await edge.signupOk({ username, password })
    await edge.post('/auth/logout', { refresh_token: tokens.refresh_token })
    await expectError(
      await change(tokens.access_token, {
        current_password: password,
        new_password: strongPassword(),
      }),
      401,
      'unauthorized',
    )
  })
})
