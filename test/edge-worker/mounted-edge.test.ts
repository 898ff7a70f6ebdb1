/**
 * The edge as a library (edge/edge.ts, `edgegate/edge`): a team's own Worker
 * (test/fixtures/edge-worker) mounts createEdge's app beside its routes and re-exports the
 * Durable Object classes; login, the JWKS, refresh and revocations work through it, inside
 * workerd with the real migrations, and its own routes stay its own.
 */
import { createLocalJWKSet, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import { call, createUser, feed, loginOk, postJson, refresh, sidOf } from '../edge/support.ts'

describe("createEdge mounted in a team's Worker", () => {
  it("leaves the team's own routes to the team", async () => {
    const res = await call('/api/hello')
    expect([res.status, await res.json()]).toEqual([200, { hello: 'from the team' }])
  })

  it('logs a user in with tokens that verify against its own JWKS', async () => {
    const user = await createUser()
    const tokens = await loginOk(user)
    const jwks = await (await call('/.well-known/jwks.json')).json()
    const { payload, protectedHeader } = await jwtVerify(
      tokens.access_token,
      createLocalJWKSet(jwks as never),
      { issuer: 'http://edge.test', audience: 'realtime', typ: 'at+jwt' },
    )
    expect(payload.sub).toBe(user.sub)
    expect(protectedHeader.alg).toBe('ES256')
  })

  it('refreshes once per refresh token; a reuse revokes the session and the feed says so', async () => {
    const user = await createUser()
    const first = await loginOk(user)
    const rotated = await refresh(first.refresh_token)
    expect(rotated.status).toBe(200)
    const reused = await refresh(first.refresh_token)
    expect(reused.status).toBe(401)
    const { events } = await feed(0)
    expect(events).toContainEqual(expect.objectContaining({ kind: 'session', id: sidOf(first) }))
  })

  it('logout records a session revocation in the feed', async () => {
    const user = await createUser()
    const tokens = await loginOk(user)
    const res = await postJson('/auth/logout', { refresh_token: tokens.refresh_token })
    expect(res.status).toBe(204)
    const { events } = await feed(0)
    expect(events.filter((e) => e.kind === 'session' && e.id === sidOf(tokens))).toHaveLength(1)
  })

  it('answers what neither the team nor the edge routes with a 404', async () => {
    expect((await call('/nowhere')).status).toBe(404)
  })
})
