import { env, exports } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { expect } from 'vitest'
import type { RevocationEvent, TokenResponse } from '../../shared/claims.ts'

/** The admin bearer the test worker is configured with (test/vitest.config.ts). */
export const ADMIN_TOKEN = 'test-admin-token'

/** The revocation-feed bearer the test worker is configured with. */
export const FEED_TOKEN = 'test-feed-token'

const ORIGIN = 'http://edge.test'

/**
 * Send a request to the real worker under test.
 *
 * @param path - path and query, e.g. `/auth/login`
 * @param init - request options
 */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(`${ORIGIN}${path}`, init)
}

/**
 * POST a JSON body (`application/json`) to the worker.
 *
 * @param path - the route
 * @param body - serialized with `JSON.stringify`
 * @param headers - extra headers
 */
export function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })
}

/** A client address no other test uses, so throttling counters never leak between tests. */
export function freshAddress(): string {
  const hex = crypto.randomUUID().replaceAll('-', '')
  return `2001:db8:${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 12)}:${hex.slice(12, 16)}::1`
}

let names = 0

/** A username no other test in this file uses. */
export function uniqueName(prefix = 'user'): string {
  names += 1
  return `${prefix}-${names}-${crypto.randomUUID().slice(0, 8)}`
}

/** A user created through the admin API. */
export interface TestUser {
  sub: string
  username: string
  password: string
  scope: string
  rooms: string[]
}

/**
 * Create a user through `POST /admin/users` and expect 201.
 *
 * @param overrides - fields to set; the rest get unique or demo values
 */
export async function createUser(
  overrides: Partial<Omit<TestUser, 'sub'>> = {},
): Promise<TestUser> {
  const user = {
    username: overrides.username ?? uniqueName(),
    password: overrides.password ?? `pw-${crypto.randomUUID()}`,
    scope: overrides.scope ?? 'chat:read chat:write',
    rooms: overrides.rooms ?? ['lobby', 'team:a:*'],
  }
  const res = await postJson('/admin/users', user, { authorization: `Bearer ${ADMIN_TOKEN}` })
  expect(res.status).toBe(201)
  const { sub } = (await res.json()) as { sub: string }
  return { sub, ...user }
}

/**
 * `POST /auth/login`, from a fresh client address unless one is given.
 *
 * @param username - as sent
 * @param password - as sent
 * @param address - the `CF-Connecting-IP` to send
 */
export function login(username: string, password: string, address = freshAddress()) {
  return postJson('/auth/login', { username, password }, { 'cf-connecting-ip': address })
}

/** Log in and expect 200; returns the token response. */
export async function loginOk(user: { username: string; password: string }, address?: string) {
  const res = await login(user.username, user.password, address)
  expect(res.status).toBe(200)
  return (await res.json()) as TokenResponse
}

/**
 * `POST /auth/refresh` with `{ refresh_token }`, from a fresh client address
 * unless one is given (so the per-address refresh limit never couples tests).
 */
export function refresh(token: string, address = freshAddress()) {
  return postJson('/auth/refresh', { refresh_token: token }, { 'cf-connecting-ip': address })
}

/** The session id an access token names (its `sid` claim). */
export function sidOf(tokens: TokenResponse): string {
  return decodeJwt(tokens.access_token).sid as string
}

/** Read the revocation feed after `after` and expect 200. */
export async function feed(after = 0): Promise<{ events: RevocationEvent[]; next: number }> {
  const res = await call(`/auth/revocations?after=${after}`, {
    headers: { authorization: `Bearer ${FEED_TOKEN}` },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as { events: RevocationEvent[]; next: number }
}

/**
 * Assert a contract error: the status, a JSON body of exactly
 * `{ error, error_description }` with `error === code`, `no-store`, and that
 * none of `secrets` appears anywhere in the body.
 *
 * @returns the parsed body
 */
export async function expectError(
  res: Response,
  status: number,
  code: string,
  secrets: readonly string[] = [],
): Promise<{ error: string; error_description: string }> {
  const text = await res.text()
  expect({ status: res.status, text }).toMatchObject({ status })
  expect(res.headers.get('content-type')).toMatch(/^application\/json\b/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  const body = JSON.parse(text) as Record<string, unknown>
  expect(Object.keys(body).sort()).toEqual(['error', 'error_description'])
  expect(body.error).toBe(code)
  expect(typeof body.error_description).toBe('string')
  expect(text).not.toMatch(/\bat .+:\d+:\d+|stack|\$scrypt\$/i)
  for (const secret of secrets) expect(text).not.toContain(secret)
  return body as { error: string; error_description: string }
}

/** The `WWW-Authenticate` challenge every bearer 401 carries (RFC 6750 §3). */
export function expectBearerChallenge(res: Response): void {
  expect(res.headers.get('www-authenticate')).toMatch(
    /^Bearer error="invalid_token", error_description="[^"]+"$/,
  )
}

/** A user row read straight from D1, or null. */
export function userRow(username: string) {
  return env.DB.prepare(
    'SELECT sub, username, username_key, password_hash, disabled_at FROM users WHERE username = ?',
  )
    .bind(username)
    .first<{
      sub: string
      username: string
      username_key: string
      password_hash: string
      disabled_at: number | null
    }>()
}
