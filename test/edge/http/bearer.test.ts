import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { readBearer, requireSecret } from '../../../edge/http/bearer.ts'
import { handleError } from '../../../edge/http/errors.ts'
import type { AppEnv } from '../../../edge/types.ts'
import { expectBearerChallenge, expectError } from '../support.ts'

describe('readBearer', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    ['Bearer a.b-c_d~e+f/g==', 'a.b-c_d~e+f/g=='],
    [undefined, undefined],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Basic abc', undefined],
    ['Bearerabc', undefined],
    ['Bearer abc def', undefined],
    ['Bearer abc\tdef', undefined],
    ['Bearer "abc"', undefined],
    ['Bearer a=b', undefined],
    [' Bearer abc', undefined],
  ])('reads %j as %j', (header, expected) => {
    expect(readBearer(header)).toBe(expected)
  })
})

describe('requireSecret', () => {
  function guarded(bindings: Record<string, string | undefined>) {
    let ran = 0
    const app = new Hono<AppEnv>()
    app.use(requireSecret('ADMIN_TOKEN'))
    app.get('/', (c) => {
      ran += 1
      return c.text('in')
    })
    app.onError(handleError)
    const request = (authorization?: string) =>
      app.request(
        '/',
        { headers: authorization === undefined ? {} : { authorization } },
        bindings as unknown as Env,
      )
    return { request, ran: () => ran }
  }

  it('admits the exact secret as a bearer', async () => {
    const { request, ran } = guarded({ ADMIN_TOKEN: 's3cret' })
    const res = await request('Bearer s3cret')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('in')
    expect(ran()).toBe(1)
  })

  it.each([undefined, 'Bearer s3cre', 'Bearer s3cret2', 'Bearer S3CRET', 'Basic s3cret', 's3cret'])(
    'answers 401 unauthorized with a challenge for %j and never runs the handler',
    async (authorization) => {
      const { request, ran } = guarded({ ADMIN_TOKEN: 's3cret' })
      const res = await request(authorization)
      expectBearerChallenge(res)
      await expectError(res, 401, 'unauthorized', ['s3cret'])
      expect(ran()).toBe(0)
    },
  )

  it.each([
    ['absent', {}],
    ['undefined', { ADMIN_TOKEN: undefined }],
    ['empty', { ADMIN_TOKEN: '' }],
  ])(
    'answers 503 unavailable when the secret is %s, whatever is presented',
    async (_, bindings) => {
      const { request, ran } = guarded(bindings)
      for (const authorization of [undefined, 'Bearer ', 'Bearer undefined', 'Bearer null']) {
        const res = await request(authorization)
        await expectError(res, 503, 'unavailable', ['ADMIN_TOKEN'])
        expect(res.headers.get('www-authenticate')).toBeNull()
      }
      expect(ran()).toBe(0)
    },
  )
})
