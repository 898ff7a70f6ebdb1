import { env } from 'cloudflare:workers'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { authenticateClient, readClientCredentials } from '../../../edge/auth/client-auth.ts'
import { isAppError } from '../../../shared/errors.ts'
import { basic, createClient, disableClient, type TestClient } from '../service-support.ts'

let client: TestClient
let disabled: TestClient

beforeAll(async () => {
  client = await createClient('publish')
  disabled = await createClient('publish')
  await disableClient(disabled.client_id)
})
afterEach(() => {
  vi.restoreAllMocks()
})

/** Run one authentication and count the crypto it did. */
async function work(clientId: string, clientSecret: string) {
  const digest = vi.spyOn(crypto.subtle, 'digest')
  const compare = vi.spyOn(crypto.subtle, 'timingSafeEqual')
  const outcome = await authenticateClient(env.DB, { clientId, clientSecret }).then(
    () => 'ok',
    (err: unknown) => (isAppError(err) ? `${err.code}` : 'other'),
  )
  const counts = { outcome, digests: digest.mock.calls.length, compares: compare.mock.calls.length }
  vi.restoreAllMocks()
  return counts
}

describe('authenticateClient', () => {
  it('does the same hashing and constant-time comparison for an unknown client, a wrong secret and a disabled client', async () => {
    const unknown = await work('no-such-client', 'whatever')
    const wrong = await work(client.client_id, 'whatever')
    const off = await work(disabled.client_id, disabled.client_secret)
    const tooLong = await work('x'.repeat(500), 'whatever')
    expect(wrong).toEqual({ outcome: 'invalid_client', digests: 1, compares: 1 })
    for (const other of [unknown, off, tooLong]) expect(other).toEqual(wrong)
  })

  it('accepts the right secret of an enabled client', async () => {
    const row = await authenticateClient(env.DB, {
      clientId: client.client_id,
      clientSecret: client.client_secret,
    })
    expect(row.client_id).toBe(client.client_id)
  })
})

describe('readClientCredentials', () => {
  const none = new Map<string, string>()

  it('reads Basic with form-urlencoded parts', () => {
    expect(readClientCredentials(basic('a b:c', 'p+q%'), none)).toEqual({
      clientId: 'a b:c',
      clientSecret: 'p+q%',
    })
  })

  it('reads the form fields', () => {
    const form = new Map([
      ['client_id', 'id'],
      ['client_secret', 's'],
    ])
    expect(readClientCredentials(undefined, form)).toEqual({ clientId: 'id', clientSecret: 's' })
  })

  it.each([
    ['Basic plus a form secret', basic('id', 's'), [['client_secret', 's']], 'invalid_request'],
    ['Basic plus another form id', basic('id', 's'), [['client_id', 'other']], 'invalid_request'],
    ['a form secret without an id', undefined, [['client_secret', 's']], 'invalid_request'],
    ['nothing', undefined, [], 'invalid_client'],
    ['a form id without a secret', undefined, [['client_id', 'id']], 'invalid_client'],
    ['a Bearer header', 'Bearer abc', [], 'invalid_client'],
    ['Digest', 'Digest username="x"', [], 'invalid_client'],
  ] as const)('refuses %s', (_, header, entries, code) => {
    const form = new Map(entries.map(([k, v]) => [k, v] as [string, string]))
    expect(() => readClientCredentials(header, form)).toThrow(expect.objectContaining({ code }))
  })
})
