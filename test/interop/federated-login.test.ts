/**
 * Federated login (docs/protocol.md §14) from the Node side, against a real
 * local edge (`wrangler dev`), the demo `oidc-provider` and a small hostile
 * provider written here (node:http, signing with jose) that answers with the
 * ID token a test asks for: another `aud`, a wrong `nonce`, a key outside its
 * JWKS, and a code it accepts any number of times.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_IDP_ACCOUNTS } from '../../edge/local/demo-idp.ts'
import type { TokenResponse } from '../../shared/claims.ts'
import { cleanup, connect, startServer } from '../realtime/support.ts'
import { startFederationStack, type FederationStack } from '../support/federation-stack.ts'
import { Navigator, signInAtDemoIdp } from '../support/federation.ts'

const DANA = DEMO_IDP_ACCOUNTS[0]!
const ERIN = DEMO_IDP_ACCOUNTS[1]!
/** An account only the linking test uses, so no earlier test has linked it already. */
const FRANK = {
  username: 'frank',
  password: 'frank-idp-password',
  email: 'frank@idp.example',
  name: 'Frank',
}
const FLOW_COOKIE = 'edgegate_federation'
const REFRESH_COOKIE = 'edgegate_refresh'

/** What the hostile provider puts in its next ID tokens. */
type HostileMode = 'honest' | 'other-aud' | 'wrong-nonce' | 'foreign-key' | 'hang-token'

interface HostileProvider {
  issuer: string
  mode: HostileMode
  /** The upstream sub of its next ID tokens. */
  sub: string
  server: Server
}

const HOSTILE_CLIENT = {
  clientId: 'edge-at-hostile',
  clientSecret: 'hostile-client-secret-0123456789',
}

/** A tiny OpenID provider that signs whatever the test wants (and never spends a code). */
async function startHostileProvider(): Promise<HostileProvider> {
  const signing = await generateKeyPair('ES256')
  const foreign = await generateKeyPair('ES256')
  const publicJwk: JWK = {
    ...(await exportJWK(signing.publicKey)),
    kid: 'h1',
    alg: 'ES256',
    use: 'sig',
  }
  const codes = new Map<string, { nonce: string }>()
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  const hostile: HostileProvider = { issuer, mode: 'honest', sub: 'hostile-user-1', server }
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer)
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(body))
    }
    if (url.pathname === '/.well-known/openid-configuration')
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
      })
    if (url.pathname === '/jwks') return json(200, { keys: [publicJwk] })
    if (url.pathname === '/authorize') {
      const code = `code-${Math.random().toString(36).slice(2)}`
      codes.set(code, { nonce: url.searchParams.get('nonce') ?? '' })
      const back = new URL(url.searchParams.get('redirect_uri')!)
      back.searchParams.set('code', code)
      back.searchParams.set('state', url.searchParams.get('state') ?? '')
      res.writeHead(302, { location: back.href })
      return res.end()
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      // Never answers: the edge's timeout must end the wait.
      if (hostile.mode === 'hang-token') return
      let body = ''
      req.on('data', (chunk) => (body += chunk))
      req.on('end', () => {
        const code = codes.get(new URLSearchParams(body).get('code') ?? '')
        if (!code) return json(400, { error: 'invalid_grant' })
        const now = Math.floor(Date.now() / 1000)
        const key = hostile.mode === 'foreign-key' ? foreign.privateKey : signing.privateKey
        void new SignJWT({
          nonce: hostile.mode === 'wrong-nonce' ? 'not-the-flow-nonce' : code.nonce,
          email: 'alice@example.test',
        })
          .setProtectedHeader({ alg: 'ES256', kid: 'h1' })
          .setIssuer(issuer)
          .setSubject(hostile.sub)
          .setAudience(hostile.mode === 'other-aud' ? 'some-other-client' : HOSTILE_CLIENT.clientId)
          .setIssuedAt(now)
          .setExpirationTime(now + 300)
          .sign(key)
          .then((idToken) =>
            json(200, {
              access_token: 'at',
              token_type: 'Bearer',
              expires_in: 300,
              id_token: idToken,
            }),
          )
      })
      return
    }
    json(404, { error: 'not_found' })
  })
  return hostile
}

let stack: FederationStack
let hostile: HostileProvider
/** A provider that accepts connections and never answers (its discovery hangs). */
let hanging: Server

beforeAll(async () => {
  hostile = await startHostileProvider()
  hanging = createServer(() => undefined).listen(0, '127.0.0.1')
  await once(hanging, 'listening')
  const hangingIssuer = `http://127.0.0.1:${(hanging.address() as { port: number }).port}`
  stack = await startFederationStack({
    accounts: [...DEMO_IDP_ACCOUNTS, FRANK],
    extraProviders: async () => [
      { id: 'hostile', issuer: hostile.issuer, ...HOSTILE_CLIENT, allowSignup: true },
      { id: 'closed', issuer: hostile.issuer, ...HOSTILE_CLIENT, allowSignup: false },
      { id: 'hanging', issuer: hangingIssuer, ...HOSTILE_CLIENT },
    ],
  })
}, 180_000)

afterAll(async () => {
  await stack?.stop()
  hostile?.server.closeAllConnections()
  hostile?.server.close()
  hanging?.closeAllConnections()
  hanging?.close()
})

afterEach(async () => {
  hostile.mode = 'honest'
  await cleanup()
})

const startUrl = (provider: string, returnTo = stack.returnTo) =>
  `${stack.edge.url}/auth/federated/${provider}/start?return_to=${encodeURIComponent(returnTo)}`

/** Start a flow in `nav`: the authorization URL the edge redirected to. */
async function start(nav: Navigator, provider = 'demo'): Promise<string> {
  const res = await nav.request(startUrl(provider))
  expect(res.status).toBe(302)
  expect(nav.cookie(FLOW_COOKIE)).toBeDefined()
  return res.headers.get('location')!
}

/** The hostile provider's redirect back to the edge (it asks for no login). */
async function hostileCallback(nav: Navigator, provider = 'hostile'): Promise<string> {
  const res = await fetch(await start(nav, provider), { redirect: 'manual' })
  return res.headers.get('location')!
}

/** Run the callback; the redirect's target and the response. */
async function callback(nav: Navigator, url: string): Promise<{ status: number; location: URL }> {
  const res = await nav.request(url)
  await res.body?.cancel()
  return { status: res.status, location: new URL(res.headers.get('location') ?? 'about:blank') }
}

/** Refresh through the cookie, as the page does after the redirect back. */
async function refreshThroughCookie(nav: Navigator): Promise<TokenResponse> {
  const res = await nav.request(`${stack.edge.url}/auth/refresh`, {
    method: 'POST',
    headers: { 'x-edgegate-refresh': 'cookie' },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as TokenResponse
}

/** A full federated login through the demo provider as `account`; the access token. */
async function loginThroughDemo(account = DANA, nav = new Navigator()): Promise<TokenResponse> {
  const back = await signInAtDemoIdp(nav, await start(nav), account)
  const done = await callback(nav, back)
  expect(done.status).toBe(302)
  expect(done.location.href).toBe(stack.returnTo)
  return refreshThroughCookie(nav)
}

/**
 * Run the callback `back` in `nav`, which holds its flow cookie, then the same redirect with a
 * copy of that cookie (an attacker who copied both): the first lands, the replay must not.
 */
async function expectReplayRefused(nav: Navigator, back: string): Promise<void> {
  const sealed = nav.cookie(FLOW_COOKIE)!
  expect((await callback(nav, back)).location.href).toBe(stack.returnTo)
  const replay = new Navigator()
  replay.setCookie(FLOW_COOKIE, sealed)
  expect((await callback(replay, back)).location.href).toBe(`${stack.returnTo}?error=invalid_grant`)
  expect(replay.cookie(REFRESH_COOKIE)).toBeUndefined()
}

/** Ask to link `provider` to the user of `accessToken`, from `nav` (which keeps the flow cookie). */
function requestLink(
  nav: Navigator,
  provider: string,
  accessToken: string,
  returnTo = stack.returnTo,
): Promise<Response> {
  return nav.request(`${stack.edge.url}/auth/federated/${provider}/link`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${accessToken}` },
    body: JSON.stringify({ return_to: returnTo }),
  })
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
    string,
    unknown
  >
}

async function adminUsers(): Promise<{ sub: string; username: string; federated: string[] }[]> {
  const res = await fetch(`${stack.edge.url}/admin/users?limit=200`, {
    headers: { authorization: `Bearer ${stack.edge.adminToken}` },
  })
  return ((await res.json()) as { users: { sub: string; username: string; federated: string[] }[] })
    .users
}

describe('federated login through a real oidc-provider', () => {
  it('runs from start to a session with method federated, a refresh cookie and a connected socket', async () => {
    const nav = new Navigator()
    const authorize = new URL(await start(nav))
    expect(authorize.origin).toBe(stack.idp.issuer)
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('response_type')).toBe('code')
    for (const p of ['state', 'nonce', 'code_challenge'])
      expect(authorize.searchParams.get(p)).toMatch(/^[\w-]{40,}$/)
    const back = await signInAtDemoIdp(nav, authorize.href, DANA)
    const res = await nav.request(back)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(stack.returnTo)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const cookies = res.headers.getSetCookie()
    const refresh = cookies.find((c) => c.startsWith(`${REFRESH_COOKIE}=`))!
    expect(refresh).toMatch(/; Path=\/auth; HttpOnly; SameSite=Strict$/)
    expect(cookies.some((c) => c.startsWith(`${FLOW_COOKIE}=;`) && /Max-Age=0/.test(c))).toBe(true)
    const tokens = await refreshThroughCookie(nav)
    expect(tokens).not.toHaveProperty('refresh_token')
    const claims = claimsOf(tokens.access_token)
    expect(claims.name).toBe('dana')
    const sessions = (await (
      await fetch(`${stack.edge.url}/auth/sessions`, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
    ).json()) as { sessions: { method: string; current: boolean }[] }
    expect(sessions.sessions.find((s) => s.current)?.method).toBe('federated')
    const { url } = await startServer({ url: stack.edge.url })
    const socket = await connect(url, { auth: { token: tokens.access_token } })
    expect(socket.connected).toBe(true)
    const listed = (await adminUsers()).find((u) => u.sub === claims.sub)
    expect(listed?.federated).toEqual(['demo'])
  })

  it('logs the same upstream account in as the same local user the next time', async () => {
    const first = claimsOf((await loginThroughDemo(ERIN)).access_token)
    const second = claimsOf((await loginThroughDemo(ERIN)).access_token)
    expect(second.sub).toBe(first.sub)
    expect(second.sid).not.toBe(first.sid)
  })

  it('refuses a callback whose state was tampered with, redirecting with invalid_grant and no session', async () => {
    const nav = new Navigator()
    const back = new URL(await signInAtDemoIdp(nav, await start(nav), DANA))
    back.searchParams.set('state', `${back.searchParams.get('state')}x`)
    const done = await callback(nav, back.href)
    expect(done.status).toBe(302)
    expect(done.location.href).toBe(`${stack.returnTo}?error=invalid_grant`)
    expect(nav.cookie(REFRESH_COOKIE)).toBeUndefined()
  })

  it('answers 400 without a redirect when the flow cookie is forged, missing or for another provider', async () => {
    const nav = new Navigator()
    const back = await signInAtDemoIdp(nav, await start(nav), DANA)
    const sealed = nav.cookie(FLOW_COOKIE)!
    const [h, p, s] = sealed.split('.')
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const forged = Buffer.from(
      JSON.stringify({ ...payload, returnTo: 'https://evil.example/' }),
    ).toString('base64url')
    for (const cookie of [
      `${h}.${forged}.${s}`,
      `${sealed.slice(0, -2)}AA`,
      'garbage',
      undefined,
    ]) {
      const other = new Navigator()
      if (cookie) other.setCookie(FLOW_COOKIE, cookie)
      const res = await other.request(back)
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()
      expect(await res.json()).toMatchObject({ error: 'invalid_request' })
      expect(other.cookie(REFRESH_COOKIE)).toBeUndefined()
    }
    // The genuine cookie at another provider's callback.
    const res = await nav.request(back.replace('/demo/callback', '/hostile/callback'))
    expect(res.status).toBe(400)
  })

  it('refuses a replayed callback, and a code replayed into a new flow', async () => {
    const nav = new Navigator()
    const back = await signInAtDemoIdp(nav, await start(nav), DANA)
    await expectReplayRefused(nav, back)
    // The code, under a new flow's state and cookie: the provider refuses a used code.
    const fresh = new Navigator()
    const state = new URL(await start(fresh)).searchParams.get('state')!
    const reused = new URL(back)
    reused.searchParams.set('state', state)
    expect((await callback(fresh, reused.href)).location.href).toBe(
      `${stack.returnTo}?error=invalid_grant`,
    )
    expect(fresh.cookie(REFRESH_COOKIE)).toBeUndefined()
  })

  it('refuses a return_to outside ALLOWED_RETURN_URLS with 400 and no cookie', async () => {
    for (const returnTo of [
      'https://evil.example/',
      `${stack.returnTo}evil`,
      `${stack.returnTo}?x=1`,
      stack.returnTo.replace('127.0.0.1', 'localhost'),
      '',
    ]) {
      const nav = new Navigator()
      const res = await nav.request(startUrl('demo', returnTo))
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()
      expect(await res.json()).toMatchObject({ error: 'invalid_request' })
      expect(nav.cookie(FLOW_COOKIE)).toBeUndefined()
    }
    const bob = await stack.edge.login('bob')
    const link = await requestLink(
      new Navigator(),
      'demo',
      bob.access_token,
      'https://evil.example/',
    )
    expect(link.status).toBe(400)
    // Another allowed URL is kept as given.
    const other = await new Navigator().request(startUrl('demo', `${stack.edge.url}/other-page`))
    expect(other.status).toBe(302)
  })

  it('validates dpop_jkt and answers 404 for an unknown provider', async () => {
    const bad = await new Navigator().request(`${startUrl('demo')}&dpop_jkt=short`)
    expect(bad.status).toBe(400)
    const good = await new Navigator().request(`${startUrl('demo')}&dpop_jkt=${'A'.repeat(43)}`)
    expect(good.status).toBe(302)
    expect((await new Navigator().request(startUrl('nope'))).status).toBe(404)
  })

  it('links a logged-in user, after which logging in through the provider reaches the same sub', async () => {
    const alice = await stack.edge.login('alice')
    const aliceSub = claimsOf(alice.access_token).sub
    const nav = new Navigator()
    const res = await requestLink(nav, 'demo', alice.access_token)
    expect(res.status).toBe(200)
    const { url } = (await res.json()) as { url: string }
    expect(new URL(url).origin).toBe(stack.idp.issuer)
    const back = await signInAtDemoIdp(nav, url, FRANK)
    const linked = await callback(nav, back)
    expect(linked.location.href).toBe(stack.returnTo)
    // A link opens no session: the browser got no refresh cookie from it.
    expect(nav.cookie(REFRESH_COOKIE)).toBeUndefined()
    const later = claimsOf((await loginThroughDemo(FRANK)).access_token)
    expect(later.sub).toBe(aliceSub)
    expect(later.name).toBe('alice')
    expect((await adminUsers()).find((u) => u.sub === aliceSub)?.federated).toEqual(['demo'])
  })

  it("refuses to link an upstream account that is already another user's (conflict)", async () => {
    await loginThroughDemo(ERIN)
    const bob = await stack.edge.login('bob')
    const nav = new Navigator()
    const res = await requestLink(nav, 'demo', bob.access_token)
    const { url } = (await res.json()) as { url: string }
    const done = await callback(nav, await signInAtDemoIdp(nav, url, ERIN))
    expect(done.location.href).toBe(`${stack.returnTo}?error=conflict`)
    const bobSub = claimsOf(bob.access_token).sub
    expect((await adminUsers()).find((u) => u.sub === bobSub)?.federated).toEqual([])
  })

  it('refuses a link request without a valid access token', async () => {
    const res = await requestLink(new Navigator(), 'demo', 'not-a-token')
    expect(res.status).toBe(401)
    expect(res.headers.getSetCookie()).toEqual([])
  })

  it('never links an upstream account to an existing user because their emails are equal', async () => {
    // alice's email is the one the hostile provider's ID tokens carry.
    const patched = await fetch(`${stack.edge.url}/admin/users/alice`, {
      method: 'PATCH',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${stack.edge.adminToken}`,
      },
      body: JSON.stringify({ email: 'alice@example.test' }),
    })
    expect(patched.status).toBe(200)
    const aliceSub = claimsOf((await stack.edge.login('alice')).access_token).sub
    hostile.sub = 'hostile-user-email'
    const nav = new Navigator()
    expect((await callback(nav, await hostileCallback(nav))).location.href).toBe(stack.returnTo)
    const claims = claimsOf((await refreshThroughCookie(nav)).access_token)
    expect(claims.sub).not.toBe(aliceSub)
    expect(claims.name).not.toBe('alice')
    const users = await adminUsers()
    expect(users.find((u) => u.sub === aliceSub)?.federated).not.toContain('hostile')
    expect(users.find((u) => u.sub === claims.sub)?.federated).toEqual(['hostile'])
  })

  it('refuses an ID token for another audience, with a wrong nonce, or signed by a key outside the JWKS', async () => {
    for (const mode of ['other-aud', 'wrong-nonce', 'foreign-key'] as const) {
      hostile.mode = mode
      hostile.sub = `hostile-${mode}`
      const nav = new Navigator()
      const done = await callback(nav, await hostileCallback(nav))
      expect(done.location.href, mode).toBe(`${stack.returnTo}?error=invalid_grant`)
      expect(nav.cookie(REFRESH_COOKIE), mode).toBeUndefined()
    }
    const names = (await adminUsers()).map((u) => u.username)
    expect(names.filter((n) => n.startsWith('hostile'))).toHaveLength(0)
  })

  it('refuses a replayed callback even when the provider would accept its code twice', async () => {
    hostile.sub = 'hostile-replay'
    const nav = new Navigator()
    await expectReplayRefused(nav, await hostileCallback(nav))
  })

  it('gives up on a provider that does not answer: 503 at start, unavailable at the callback', async () => {
    // Discovery never answers: the edge's timeout (5 s) ends the start with 503 and no cookie.
    const nav = new Navigator()
    const res = await nav.request(startUrl('hanging'))
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: 'unavailable' })
    expect(nav.cookie(FLOW_COOKIE)).toBeUndefined()
    // The token endpoint never answers.
    hostile.mode = 'hang-token'
    const other = new Navigator()
    const done = await callback(other, await hostileCallback(other))
    expect(done.location.href).toBe(`${stack.returnTo}?error=unavailable`)
    expect(other.cookie(REFRESH_COOKIE)).toBeUndefined()
  })

  it('refuses sign-up through a provider without allowSignup (signup_closed), but logs in a linked account there', async () => {
    hostile.sub = 'closed-user-1'
    const nav = new Navigator()
    const done = await callback(nav, await hostileCallback(nav, 'closed'))
    expect(done.location.href).toBe(`${stack.returnTo}?error=signup_closed`)
    expect(nav.cookie(REFRESH_COOKIE)).toBeUndefined()
    // carol links that upstream account explicitly; from then on it logs in as carol.
    const carol = await stack.edge.login('carol')
    const linking = new Navigator()
    const res = await requestLink(linking, 'closed', carol.access_token)
    const { url } = (await res.json()) as { url: string }
    const authorized = await fetch(url, { redirect: 'manual' })
    const linked = await callback(linking, authorized.headers.get('location')!)
    expect(linked.location.href).toBe(stack.returnTo)
    const again = new Navigator()
    expect((await callback(again, await hostileCallback(again, 'closed'))).location.href).toBe(
      stack.returnTo,
    )
    const claims = claimsOf((await refreshThroughCookie(again)).access_token)
    expect(claims.sub).toBe(claimsOf(carol.access_token).sub)
  })
})

describe('federated sign-up with SIGNUP=off', () => {
  let closed: FederationStack
  beforeAll(async () => {
    closed = await startFederationStack({ vars: { SIGNUP: 'off' } })
  }, 180_000)
  afterAll(async () => closed?.stop())

  it('refuses an upstream account with no link (signup_closed) and creates no user', async () => {
    const nav = new Navigator()
    const res = await nav.request(
      `${closed.edge.url}/auth/federated/demo/start?return_to=${encodeURIComponent(closed.returnTo)}`,
    )
    const back = await signInAtDemoIdp(nav, res.headers.get('location')!, DANA)
    const done = await callback(nav, back)
    expect(done.location.href).toBe(`${closed.returnTo}?error=signup_closed`)
    expect(nav.cookie(REFRESH_COOKIE)).toBeUndefined()
    const users = await fetch(`${closed.edge.url}/admin/users`, {
      headers: { authorization: `Bearer ${closed.edge.adminToken}` },
    }).then((r) => r.json() as Promise<{ users: { username: string }[] }>)
    expect(users.users.map((u) => u.username).sort()).toEqual(['alice', 'bob', 'carol'])
  })
})
