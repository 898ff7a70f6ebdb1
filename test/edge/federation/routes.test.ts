import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { FEDERATED_LINKS_PER_USER_MAX } from '../../../edge/constants.ts'
import { findLink, insertLink } from '../../../edge/federation/links.ts'
import { accountsEdge } from '../accounts/support.ts'
import { ADMIN_TOKEN, createUser, expectError, freshAddress, loginOk } from '../support.ts'

const RETURN_TO = 'https://app.example.com/'
// Nothing listens on port 9 of loopback: discovery fails at once.
const FEDERATION = JSON.stringify([
  {
    id: 'corp',
    name: 'Corp SSO',
    issuer: 'http://127.0.0.1:9',
    clientId: 'edge',
    clientSecret: 'corp-client-secret',
  },
])
const edge = accountsEdge({ FEDERATION, ALLOWED_RETURN_URLS: RETURN_TO })
const get = (path: string, headers: Record<string, string> = {}) =>
  edge.call(path, { headers: { 'cf-connecting-ip': freshAddress(), ...headers } })

describe('federation routes without a reachable provider', () => {
  it('lists the providers in discovery as edgegate_federation, ids and names only', async () => {
    const res = await get('/.well-known/openid-configuration')
    const body = (await res.json()) as { edgegate_federation: unknown }
    expect(body.edgegate_federation).toEqual([{ id: 'corp', name: 'Corp SSO' }])
    expect(JSON.stringify(body)).not.toContain('corp-client-secret')
  })

  it('answers 404 for an unknown provider and 400 for a return_to outside the allow-list, before any fetch', async () => {
    await expectError(
      await get(`/auth/federated/nope/start?return_to=${RETURN_TO}`),
      404,
      'not_found',
    )
    for (const query of ['', '?return_to=https://evil.example/', `?return_to=${RETURN_TO}x`]) {
      const res = await get(`/auth/federated/corp/start${query}`)
      await expectError(res, 400, 'invalid_request')
      expect(res.headers.getSetCookie()).toEqual([])
    }
  })

  it('answers 503 unavailable with no cookie when the provider cannot be reached', async () => {
    const res = await get(`/auth/federated/corp/start?return_to=${encodeURIComponent(RETURN_TO)}`)
    await expectError(res, 503, 'unavailable')
    expect(res.headers.getSetCookie()).toEqual([])
  })

  it('answers a callback without a flow cookie with 400 and no redirect', async () => {
    const res = await get('/auth/federated/corp/callback?code=abc&state=def')
    await expectError(res, 400, 'invalid_request')
    expect(res.headers.get('location')).toBeNull()
  })

  it('throttles starts per address (429 with Retry-After)', async () => {
    const address = freshAddress()
    let last: Response | undefined
    for (let i = 0; i < 61; i++) {
      last = await edge.call(
        `/auth/federated/corp/start?return_to=${encodeURIComponent(RETURN_TO)}`,
        {
          headers: { 'cf-connecting-ip': address },
        },
      )
      if (last.status === 429) break
      await last.body?.cancel()
    }
    expect(last?.status).toBe(429)
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it("erases a deleted user's federated links, and lists them until then", async () => {
    const user = await createUser()
    await env.DB.prepare(
      `INSERT INTO federated_links (provider, upstream_sub, sub, created_at) VALUES ('corp', ?1, ?2, 1), ('corp', ?1 || '-2', ?2, 2)`,
    )
      .bind(`up-${user.sub}`, user.sub)
      .run()
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` }
    const listed = async () => {
      const res = await edge.call('/admin/users?limit=200', { headers: admin })
      const users = ((await res.json()) as { users: { sub: string; federated: string[] }[] }).users
      return users.find((u) => u.sub === user.sub)
    }
    expect((await listed())?.federated).toEqual(['corp'])
    const del = await edge.call(`/admin/users/${user.username}`, {
      method: 'DELETE',
      headers: admin,
    })
    expect(del.status).toBe(204)
    const left = await env.DB.prepare('SELECT COUNT(*) AS n FROM federated_links WHERE sub = ?')
      .bind(user.sub)
      .first<{ n: number }>()
    expect(left?.n).toBe(0)
  })
})

describe('federated links per user', () => {
  it('refuses a link request past FEDERATED_LINKS_PER_USER_MAX with 409 before calling the provider', async () => {
    const user = await createUser()
    const tokens = await loginOk(user)
    const link = () =>
      edge.post(
        '/auth/federated/corp/link',
        { return_to: RETURN_TO },
        { authorization: `Bearer ${tokens.access_token}` },
      )
    // Below the cap the request reaches the (unreachable) provider: 503.
    await expectError(await link(), 503, 'unavailable')
    for (let i = 0; i < FEDERATED_LINKS_PER_USER_MAX; i++)
      await insertLink(
        env.DB,
        { provider: 'corp', upstreamSub: `cap-${user.sub}-${i}`, sub: user.sub },
        1,
      )
    const res = await link()
    await expectError(res, 409, 'conflict')
    expect(res.headers.getSetCookie()).toEqual([])
  })

  it('stores a link once, keeps it idempotent for its user, and refuses it for another or past the cap', async () => {
    const a = await createUser()
    const b = await createUser()
    const link = { provider: 'corp', upstreamSub: `once-${a.sub}`, sub: a.sub }
    await insertLink(env.DB, link, 1)
    await insertLink(env.DB, link, 2)
    await expect(insertLink(env.DB, { ...link, sub: b.sub }, 3)).rejects.toMatchObject({
      code: 'conflict',
    })
    for (let i = 1; i < FEDERATED_LINKS_PER_USER_MAX; i++)
      await insertLink(
        env.DB,
        { provider: 'corp', upstreamSub: `fill-${a.sub}-${i}`, sub: a.sub },
        4,
      )
    await expect(
      insertLink(env.DB, { provider: 'corp', upstreamSub: `over-${a.sub}`, sub: a.sub }, 5),
    ).rejects.toMatchObject({ code: 'conflict' })
    expect((await findLink(env.DB, 'corp', `once-${a.sub}`))?.sub).toBe(a.sub)
    expect(await findLink(env.DB, 'corp', `over-${a.sub}`)).toBeUndefined()
  })
})
