/**
 * The sender's node:crypto signer against the Standard Webhooks test vector
 * and, differentially, against the shared WebCrypto `signWebhook` that
 * `verifyWebhook` is built on.
 */
import { describe, expect, it } from 'vitest'
import { deliverySigner } from '../../../../realtime/lifecycle/webhooks/sign.ts'
import { importWebhookKey, secretKey, signWebhook } from '../../../../shared/webhooks/signature.ts'
import { verifyWebhook } from '../../../../shared/webhooks/verify.ts'
import { newSecret } from '../receiver.ts'

// The `standardwebhooks` package's "sign function works" vector.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
}

describe('deliverySigner', () => {
  it('signs the Standard Webhooks vector byte for byte', () => {
    expect(deliverySigner(VECTOR.secret)(VECTOR.id, VECTOR.timestamp, VECTOR.body)).toBe(
      VECTOR.signature,
    )
  })

  it('matches the shared WebCrypto signer on bodies with multi-byte characters, and verifyWebhook accepts it', async () => {
    const secret = newSecret()
    const sign = deliverySigner(secret)
    const key = await importWebhookKey(secretKey(secret))
    const bodies = ['{}', '{"data":{"sub":"zoë 🦊"}}', JSON.stringify({ room: 'ü'.repeat(3000) })]
    for (const [i, body] of bodies.entries()) {
      const id = `evt_${i}`
      const signature = sign(id, 1_765_000_000 + i, body)
      expect(signature).toBe(await signWebhook(key, id, 1_765_000_000 + i, body))
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(1_765_000_000 + i),
        'webhook-signature': signature,
      }
      await expect(
        verifyWebhook(secret, headers, body, { now: () => (1_765_000_000 + i) * 1000 }),
      ).resolves.toBeDefined()
    }
  })

  it('a signature under another secret, id, timestamp or body differs', () => {
    const base = deliverySigner(VECTOR.secret)(VECTOR.id, VECTOR.timestamp, VECTOR.body)
    expect(deliverySigner(newSecret())(VECTOR.id, VECTOR.timestamp, VECTOR.body)).not.toBe(base)
    const sign = deliverySigner(VECTOR.secret)
    expect(sign('msg_other', VECTOR.timestamp, VECTOR.body)).not.toBe(base)
    expect(sign(VECTOR.id, VECTOR.timestamp + 1, VECTOR.body)).not.toBe(base)
    expect(sign(VECTOR.id, VECTOR.timestamp, `${VECTOR.body} `)).not.toBe(base)
  })
})
