import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  ADMIN_TOKEN,
  FEED_TOKEN,
  call,
  createUser,
  feed,
  login,
  loginOk,
  postJson,
  refresh,
} from '../support.ts'
import { basic, createClient, serviceToken, tokenRequest } from '../service-support.ts'

let lines: string[]

beforeEach(() => {
  lines = []
  for (const method of ['log', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '))
    })
  }
})
afterEach(() => {
  vi.restoreAllMocks()
})

/** The request lines logged so far, as `METHOD route status`. */
function requests(): string[] {
  return lines
    .map((line) => {
      try {
        return JSON.parse(line) as {
          msg?: string
          method: string
          route: string
          status: number
          ms: unknown
        }
      } catch {
        return undefined
      }
    })
    .filter((entry) => entry?.msg === 'request')
    .map((entry) => {
      expect(typeof entry!.ms).toBe('number')
      return `${entry!.method} ${entry!.route} ${entry!.status}`
    })
}

describe('the request log', () => {
  it('writes a line per request, by route and status, with no secret of the request or the answer', async () => {
    const user = await createUser()
    const first = await loginOk(user)
    expect((await login(user.username, 'not-the-password-123')).status).toBe(401)
    const res = await refresh(first.refresh_token)
    expect(res.status).toBe(200)
    const second = (await res.json()) as typeof first
    expect(requests()).toEqual([
      'POST /admin/users 201',
      'POST /auth/login 200',
      'POST /auth/login 401',
      'POST /auth/refresh 200',
    ])
    const all = lines.join('\n')
    for (const secret of [
      user.password,
      'not-the-password-123',
      first.access_token,
      first.refresh_token,
      second.access_token,
      second.refresh_token,
      ADMIN_TOKEN,
    ]) {
      expect(all).not.toContain(secret)
    }
  })

  it('leaves out successful revocation-feed polls and health checks, not refused ones', async () => {
    await feed(0)
    expect((await call('/healthz')).status).toBe(200)
    const refused = await call('/auth/revocations?after=0', {
      headers: { authorization: 'Bearer not-the-feed-token' },
    })
    expect(refused.status).toBe(401)
    expect(requests()).toEqual(['GET /auth/revocations 401'])
    expect(lines.join('\n')).not.toContain(FEED_TOKEN)
  })

  it('logs service-client routes by route, never a client secret, service token or grant', async () => {
    const client = await createClient('grants')
    const wrong = await tokenRequest(
      { grant_type: 'client_credentials' },
      { authorization: basic(client.client_id, 'wrong-secret-1') },
    )
    expect(wrong.status).toBe(401)
    const { access_token } = await serviceToken(client)
    const res = await postJson(
      '/auth/room-grants',
      { sub: 'u', rooms: ['doc:1'] },
      { authorization: `Bearer ${access_token}` },
    )
    const { grant } = (await res.json()) as { grant: string }
    expect(requests()).toEqual([
      'POST /admin/clients 201',
      'POST /auth/token 401',
      'POST /auth/token 200',
      'POST /auth/room-grants 200',
    ])
    const all = lines.join('\n')
    for (const secret of [
      client.client_secret,
      'wrong-secret-1',
      access_token,
      grant,
      ADMIN_TOKEN,
    ]) {
      expect(all).not.toContain(secret)
    }
  })
})
