/**
 * verifyWebhook and the sender's signature against the Standard Webhooks
 * test vectors (the `standardwebhooks` package's webhook.test.ts), and the
 * tampering a receiver must refuse.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { verifyWebhook, WebhookVerificationError } from '../../../shared/index.ts'
import {
  importWebhookKey,
  isSenderSecret,
  secretKey,
  signWebhook,
} from '../../../shared/webhooks/signature.ts'

// The package's vectors: its "sign function works" case, and its default test payload.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}
const at = (seconds: number) => () => seconds * 1000

/** Headers of a delivery signed now (`seconds`) with the vector's secret. */
async function signed(seconds: number, body = VECTOR.body, id = VECTOR.id) {
  const key = await importWebhookKey(secretKey(VECTOR.secret))
  return {
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': await signWebhook(key, id, seconds, body),
  }
}

async function codeOf(run: Promise<unknown>): Promise<string> {
  const err = await run.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(WebhookVerificationError)
  return (err as WebhookVerificationError).code
}

describe('Standard Webhooks signatures', () => {
  it('signs the package vector byte for byte', async () => {
    const key = await importWebhookKey(secretKey(VECTOR.secret))
    expect(await signWebhook(key, VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature)
  })

  it('matches a stock HMAC-SHA256 over id.timestamp.body (the Python receiver’s recipe)', async () => {
    const key = secretKey(VECTOR.secret)
    const body = '{"type":"user.offline","data":{"sub":"ü/\\"x"}}'
    const expected = createHmac('sha256', key).update(`${VECTOR.id}.42.${body}`).digest('base64')
    expect(await signWebhook(await importWebhookKey(key), VECTOR.id, 42, body)).toBe(
      `v1,${expected}`,
    )
  })

  it('verifies the vector at its own time and returns the parsed body', async () => {
    const headers = {
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    }
    expect(
      await verifyWebhook(VECTOR.secret, headers, VECTOR.body, { now: at(VECTOR.timestamp) }),
    ).toEqual({ test: 2432232314 })
    // Without the whsec_ prefix, as the package accepts; and with a Headers object.
    const bare = VECTOR.secret.slice('whsec_'.length)
    expect(
      await verifyWebhook(bare, new Headers(headers), VECTOR.body, { now: at(VECTOR.timestamp) }),
    ).toEqual({ test: 2432232314 })
  })

  it('accepts several signatures in one header when one of them matches', async () => {
    const now = 1_700_000_000
    const headers = await signed(now)
    headers['webhook-signature'] = [
      'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
      headers['webhook-signature'],
      'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=',
    ].join(' ')
    expect(await verifyWebhook(VECTOR.secret, headers, VECTOR.body, { now: at(now) })).toEqual({
      test: 2432232314,
    })
  })

  it('reads header names in any case', async () => {
    const now = 1_700_000_000
    const headers = Object.fromEntries(
      Object.entries(await signed(now)).map(([k, v]) => [k.toUpperCase(), v]),
    )
    await expect(
      verifyWebhook(VECTOR.secret, headers, VECTOR.body, { now: at(now) }),
    ).resolves.toEqual({ test: 2432232314 })
  })
})

describe('verifyWebhook refuses', () => {
  const now = 1_700_000_000
  const cases: [
    string,
    (h: Record<string, string>) => [Record<string, string>, string, string?],
    string,
  ][] = [
    [
      'a tampered body',
      (h) => [h, VECTOR.body.replace('2432232314', '2432232315')],
      'signature_mismatch',
    ],
    ['a body with a byte appended', (h) => [h, VECTOR.body + ' '], 'signature_mismatch'],
    [
      'a tampered timestamp',
      (h) => [{ ...h, 'webhook-timestamp': String(now + 1) }, VECTOR.body],
      'signature_mismatch',
    ],
    [
      'a tampered id',
      (h) => [{ ...h, 'webhook-id': 'msg_other' }, VECTOR.body],
      'signature_mismatch',
    ],
    [
      'another secret',
      (h) => [h, VECTOR.body, 'whsec_' + btoa('x'.repeat(24))],
      'signature_mismatch',
    ],
    [
      'a signature cut short',
      (h) => [{ ...h, 'webhook-signature': h['webhook-signature']!.slice(0, 8) }, VECTOR.body],
      'signature_mismatch',
    ],
    [
      'an empty v1 signature',
      (h) => [{ ...h, 'webhook-signature': 'v1,' }, VECTOR.body],
      'signature_mismatch',
    ],
    [
      'the right signature under another version',
      (h) => [
        { ...h, 'webhook-signature': h['webhook-signature']!.replace('v1,', 'v2,') },
        VECTOR.body,
      ],
      'signature_mismatch',
    ],
    ['a missing id', ({ 'webhook-id': _, ...h }) => [h, VECTOR.body], 'headers_missing'],
    [
      'a missing timestamp',
      ({ 'webhook-timestamp': _, ...h }) => [h, VECTOR.body],
      'headers_missing',
    ],
    [
      'a missing signature',
      ({ 'webhook-signature': _, ...h }) => [h, VECTOR.body],
      'headers_missing',
    ],
    [
      'a timestamp that is not seconds',
      (h) => [{ ...h, 'webhook-timestamp': 'hello' }, VECTOR.body],
      'timestamp_invalid',
    ],
    ['a secret that is not base64', (h) => [h, VECTOR.body, 'whsec_***'], 'secret_invalid'],
  ]
  for (const [what, tamper, code] of cases) {
    it(`${what} (${code})`, async () => {
      const [headers, body, secret] = tamper(await signed(now))
      expect(
        await codeOf(verifyWebhook(secret ?? VECTOR.secret, headers, body, { now: at(now) })),
      ).toBe(code)
    })
  }

  it('a timestamp more than 5 minutes old or ahead, even correctly signed', async () => {
    const old = await signed(now - 301)
    expect(await codeOf(verifyWebhook(VECTOR.secret, old, VECTOR.body, { now: at(now) }))).toBe(
      'timestamp_too_old',
    )
    const ahead = await signed(now + 301)
    expect(await codeOf(verifyWebhook(VECTOR.secret, ahead, VECTOR.body, { now: at(now) }))).toBe(
      'timestamp_too_new',
    )
    // At the edge of the tolerance it still verifies.
    const edge = await signed(now - 300)
    await expect(
      verifyWebhook(VECTOR.secret, edge, VECTOR.body, { now: at(now) }),
    ).resolves.toEqual({ test: 2432232314 })
  })

  it('never puts the secret or the signature in its message', async () => {
    const headers = await signed(now)
    const err = await verifyWebhook(VECTOR.secret, headers, 'tampered', { now: at(now) }).catch(
      (e: Error) => e,
    )
    expect(String((err as Error).message)).not.toContain(VECTOR.secret.slice(6))
    expect(String((err as Error).message)).not.toContain(headers['webhook-signature'].slice(3))
  })
})

describe('sender secrets', () => {
  it('takes whsec_ + base64 of at least 24 bytes only', () => {
    expect(isSenderSecret('whsec_' + btoa('k'.repeat(24)))).toBe(true)
    expect(isSenderSecret('whsec_' + btoa('k'.repeat(23)))).toBe(false)
    expect(isSenderSecret(btoa('k'.repeat(32)))).toBe(false)
    expect(isSenderSecret('whsec_not base64!')).toBe(false)
    // The package's vector secret is 24 bytes.
    expect(isSenderSecret(VECTOR.secret)).toBe(true)
  })
})
