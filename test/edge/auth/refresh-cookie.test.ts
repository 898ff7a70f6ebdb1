import { createExecutionContext } from 'cloudflare:test'
import { env, exports } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { app } from '../../../edge/app.ts'

const BASE = 'http://edge.test'
const COOKIE_MODE = { 'x-edgegate-refresh': 'cookie' }

function post(path: string, headers: Record<string, string>, body?: unknown) {
  return exports.default.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  })
}

/** The refresh cookie's value and attributes from a response. */
function refreshCookie(res: Response): { value: string; attributes: string } | undefined {
  const header = res.headers.getSetCookie().find((c) => c.startsWith('edgegate_refresh='))
  if (!header) return undefined
  const [pair, ...attributes] = header.split(';')
  return { value: pair!.slice('edgegate_refresh='.length), attributes: attributes.join(';').trim() }
}

beforeAll(async () => {
  const res = await post(
    '/admin/users',
    { authorization: `Bearer ${env.ADMIN_TOKEN}` },
    {
      username: 'cookie-user',
      password: 'cookie-password-1',
      scope: 'chat:read',
      rooms: ['lobby'],
    },
  )
  expect(res.status).toBe(201)
})

async function loginWithCookie() {
  const res = await post('/auth/login', COOKIE_MODE, {
    username: 'cookie-user',
    password: 'cookie-password-1',
  })
  expect(res.status).toBe(200)
  const cookie = refreshCookie(res)
  expect(cookie).toBeDefined()
  return { res, cookie: cookie!, body: (await res.json()) as Record<string, unknown> }
}

describe('refresh tokens in an HttpOnly cookie (browser mode)', () => {
  it('sets the refresh token only in an HttpOnly, SameSite=Strict cookie scoped to /auth, never in the body', async () => {
    const { cookie, body } = await loginWithCookie()
    expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(cookie.attributes).toMatch(/HttpOnly/)
    expect(cookie.attributes).toMatch(/SameSite=Strict/)
    expect(cookie.attributes).toMatch(/Path=\/auth/)
    expect(body).not.toHaveProperty('refresh_token')
    expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) })
  })

  it('refreshes from the cookie with the mode header and rotates the cookie', async () => {
    const { cookie } = await loginWithCookie()
    const res = await post('/auth/refresh', {
      ...COOKIE_MODE,
      cookie: `edgegate_refresh=${cookie.value}`,
    })
    expect(res.status).toBe(200)
    expect(await res.json()).not.toHaveProperty('refresh_token')
    const next = refreshCookie(res)
    expect(next?.value).toBeDefined()
    expect(next!.value).not.toBe(cookie.value)
  })

  it('ignores the cookie without the mode header, so a cross-site form cannot use it', async () => {
    const { cookie } = await loginWithCookie()
    const res = await post('/auth/refresh', { cookie: `edgegate_refresh=${cookie.value}` })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: 'invalid_request' })
    // The token was not spent: it still works with the header.
    expect(
      (await post('/auth/refresh', { ...COOKIE_MODE, cookie: `edgegate_refresh=${cookie.value}` }))
        .status,
    ).toBe(200)
  })

  it('treats a spent cookie as reuse: 401, the cookie cleared and the session revoked', async () => {
    const { cookie } = await loginWithCookie()
    const first = await post('/auth/refresh', {
      ...COOKIE_MODE,
      cookie: `edgegate_refresh=${cookie.value}`,
    })
    const rotated = refreshCookie(first)!.value
    const reuse = await post('/auth/refresh', {
      ...COOKIE_MODE,
      cookie: `edgegate_refresh=${cookie.value}`,
    })
    expect(reuse.status).toBe(401)
    expect(refreshCookie(reuse)?.attributes).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/)
    expect(
      (await post('/auth/refresh', { ...COOKIE_MODE, cookie: `edgegate_refresh=${rotated}` }))
        .status,
    ).toBe(401)
  })

  it('logs out from the cookie, clearing it and revoking the session', async () => {
    const { cookie } = await loginWithCookie()
    const res = await post('/auth/logout', {
      ...COOKIE_MODE,
      cookie: `edgegate_refresh=${cookie.value}`,
    })
    expect(res.status).toBe(204)
    expect(refreshCookie(res)?.attributes).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/)
    expect(
      (await post('/auth/refresh', { ...COOKIE_MODE, cookie: `edgegate_refresh=${cookie.value}` }))
        .status,
    ).toBe(401)
  })

  it('answers 400 in cookie mode when there is no cookie', async () => {
    const res = await post('/auth/refresh', COOKIE_MODE)
    expect(res.status).toBe(400)
  })
})

describe('the refresh cookie over plain http (local)', () => {
  it('keeps the unprefixed name scoped to /auth, without Secure (a browser would drop it over http)', async () => {
    const { res } = await loginWithCookie()
    const [header, ...others] = res.headers.getSetCookie()
    expect(others).toEqual([])
    expect(header).toMatch(/^edgegate_refresh=[A-Za-z0-9_-]{43}; /)
    expect(header).toMatch(/; Path=\/auth(;|$)/)
    expect(header).not.toMatch(/Secure|Domain=|__Host-/i)
  })
})

describe('the refresh cookie where the issuer is https (docs/protocol.md §3; issue 15 item 6)', () => {
  const httpsEnv = { ...env, ISSUER: 'https://edge.example' }

  function postHttps(path: string, headers: Record<string, string>, body?: unknown) {
    const req = new Request(`https://edge.example${path}`, {
      method: 'POST',
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    })
    return app.fetch(req, httpsEnv, createExecutionContext())
  }

  function hostCookie(res: Response) {
    const header = res.headers.getSetCookie().find((c) => c.startsWith('__Host-edgegate_refresh='))
    return header === undefined
      ? undefined
      : { header, value: header.split(';')[0]!.split('=')[1]! }
  }

  async function loginHttps() {
    const res = await postHttps('/auth/login', COOKIE_MODE, {
      username: 'cookie-user',
      password: 'cookie-password-1',
    })
    expect(res.status).toBe(200)
    return res
  }

  it('sets __Host-edgegate_refresh: Secure, Path=/, no Domain, HttpOnly, SameSite=Strict, and no other cookie', async () => {
    const res = await loginHttps()
    const cookies = res.headers.getSetCookie()
    expect(cookies).toHaveLength(1)
    const attributes = cookies[0]!.split(';').map((a) => a.trim())
    expect(attributes[0]).toMatch(/^__Host-edgegate_refresh=[A-Za-z0-9_-]{43}$/)
    expect(attributes.slice(1)).toEqual(
      expect.arrayContaining(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict']),
    )
    expect(cookies[0]).not.toMatch(/Domain=/i)
    expect(await res.json()).not.toHaveProperty('refresh_token')
  })

  it('refreshes from the __Host- cookie and ignores a planted unprefixed one', async () => {
    const login = hostCookie(await loginHttps())!
    // A cookie without the prefix can only have been planted (a sibling subdomain, plain http).
    const planted = await postHttps('/auth/refresh', {
      ...COOKIE_MODE,
      cookie: `edgegate_refresh=${login.value}`,
    })
    expect(planted.status).toBe(400)
    const res = await postHttps('/auth/refresh', {
      ...COOKIE_MODE,
      cookie: `edgegate_refresh=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; __Host-edgegate_refresh=${login.value}`,
    })
    expect(res.status).toBe(200)
    const next = hostCookie(res)!
    expect(next.value).not.toBe(login.value)
    expect(next.header).toMatch(/; Path=\/(;|$)/)
  })

  it('clears the __Host- cookie with the same attributes on logout', async () => {
    const login = hostCookie(await loginHttps())!
    const res = await postHttps('/auth/logout', {
      ...COOKIE_MODE,
      cookie: `__Host-edgegate_refresh=${login.value}`,
    })
    expect(res.status).toBe(204)
    const cleared = hostCookie(res)!
    expect(cleared.header).toMatch(/Max-Age=0|Expires=Thu, 01 Jan 1970/)
    expect(cleared.header).toMatch(/; Path=\/(;|$)/)
    expect(cleared.header).toMatch(/; Secure(;|$)/)
  })
})
