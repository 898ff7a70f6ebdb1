import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { handleError } from '../../../edge/http/errors.ts'
import { AppError } from '../../../shared/errors.ts'
import { ADMIN_TOKEN, call, expectBearerChallenge, expectError } from '../support.ts'

describe('unknown routes', () => {
  it.each([
    ['GET', '/nope'],
    ['GET', '/auth'],
    ['GET', '/auth/login'],
    ['PUT', '/auth/refresh'],
    ['GET', '/admin/../auth/login'],
    ['POST', '/auth/login/'],
    ['GET', '/.env'],
  ])('answers %s %s with 404 not_found as contract JSON', async (method, path) => {
    const res = await call(path, { method })
    await expectError(res, 404, 'not_found')
    expect(res.headers.get('www-authenticate')).toBeNull()
  })
})

describe('unknown routes under /admin', () => {
  it('answers 404 not_found to the admin', async () => {
    const res = await call('/admin/users', {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    })
    await expectError(res, 404, 'not_found')
  })

  it('answers 401 to anyone else, so the admin surface cannot be mapped without the token', async () => {
    for (const path of ['/admin/users', '/admin/nope', '/admin/users/x/enable']) {
      const res = await call(path, { method: 'DELETE' })
      expectBearerChallenge(res)
      await expectError(res, 401, 'unauthorized')
    }
  })
})

describe('handleError', () => {
  function appThrowing(err: Error) {
    let after = 0
    const app = new Hono()
    app.get('/', () => {
      throw err
    })
    app.get('/after', (c) => {
      after += 1
      return c.text('ok')
    })
    app.onError(handleError)
    return { app, after: () => after }
  }

  it('answers an unexpected error with 500 server_error and nothing of its message or stack', async () => {
    const { app } = appThrowing(new Error('db password is hunter2'))
    const res = await app.request('/')
    await expectError(res, 500, 'server_error', ['hunter2', 'db password'])
  })

  it('sends the generic text for a coded error, not its internal message', async () => {
    const { app } = appThrowing(new AppError('invalid_grant', 'refresh token abc123 reused'))
    const body = await expectError(await app.request('/'), 401, 'invalid_grant', [
      'abc123',
      'reused',
    ])
    expect(body.error_description).toBe('the grant is invalid, expired, revoked or already used')
  })

  it('rounds Retry-After up to a whole second of at least 1', async () => {
    for (const [seconds, header] of [
      [0.2, '1'],
      [0, '1'],
      [12.1, '13'],
      [900, '900'],
    ] as const) {
      const { app } = appThrowing(
        new AppError('rate_limited', 'throttled', { retryAfterSeconds: seconds }),
      )
      const res = await app.request('/')
      expect(res.headers.get('retry-after')).toBe(header)
      await expectError(res, 429, 'rate_limited')
    }
  })

  it('maps a realtime-only code to 500 rather than inventing a status', async () => {
    const { app } = appThrowing(new AppError('token_expired', 'exp'))
    await expectError(await app.request('/'), 500, 'server_error')
  })
})
