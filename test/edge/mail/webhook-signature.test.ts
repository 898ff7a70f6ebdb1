import { describe, expect, it } from 'vitest'
import { signWebhook, webhookSecretBytes } from '../../../edge/mail/webhook-signature.ts'
import { webhookTransport } from '../../../edge/mail/webhook.ts'

// The Standard Webhooks specification's own example (its README and test suites).
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek'
const TIMESTAMP = 1614265330
const BODY = '{"test": 2432232314}'
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='

describe('signWebhook (docs/protocol.md §16)', () => {
  it("matches the Standard Webhooks specification's example", async () => {
    expect(await signWebhook(SECRET, ID, TIMESTAMP, BODY)).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': String(TIMESTAMP),
      'webhook-signature': SIGNATURE,
    })
  })

  it('changes with any byte of the id, timestamp or body', async () => {
    const base = (await signWebhook(SECRET, ID, TIMESTAMP, BODY))['webhook-signature']
    for (const [id, ts, body] of [
      [`${ID}x`, TIMESTAMP, BODY],
      [ID, TIMESTAMP + 1, BODY],
      [ID, TIMESTAMP, `${BODY} `],
    ] as const)
      expect((await signWebhook(SECRET, id, ts, body))['webhook-signature']).not.toBe(base)
  })

  it.each([
    ['no prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['not base64', 'whsec_!!!!'],
    ['under 24 bytes', `whsec_${btoa('short secret')}`],
  ])('refuses a secret with %s (TypeError)', (_, secret) => {
    expect(() => webhookSecretBytes(secret)).toThrow(TypeError)
  })
})

describe('webhookTransport', () => {
  it('POSTs the mail as JSON with a signature over exactly the body sent', async () => {
    const seen: { url: string; init: RequestInit }[] = []
    const transport = webhookTransport({
      url: 'https://mail.example/hook',
      secret: SECRET,
      fetch: async (url, init) => {
        seen.push({ url: String(url), init: init! })
        return new Response(null, { status: 204 })
      },
    })
    const mail = { to: 'a@example.test', subject: 'S', text: 'T', kind: 'notice' as const }
    await transport.send(mail, TIMESTAMP)
    expect(seen).toHaveLength(1)
    const headers = seen[0]!.init.headers as Record<string, string>
    const body = seen[0]!.init.body as string
    expect(JSON.parse(body)).toEqual(mail)
    expect(headers['content-type']).toBe('application/json')
    expect(headers['webhook-timestamp']).toBe(String(TIMESTAMP))
    const expected = await signWebhook(SECRET, headers['webhook-id']!, TIMESTAMP, body)
    expect(headers['webhook-signature']).toBe(expected['webhook-signature'])
  })

  it('reports a non-2xx answer as a failure', async () => {
    const transport = webhookTransport({
      url: 'https://mail.example/hook',
      secret: SECRET,
      fetch: async () => new Response('no', { status: 500 }),
    })
    await expect(
      transport.send({ to: 'a@b.test', subject: 's', text: 't', kind: 'notice' }, 1),
    ).rejects.toThrow(/HTTP 500/)
  })

  it('throws TypeError at construction without a secret', () => {
    expect(() => webhookTransport({ url: 'https://mail.example/hook', secret: '' })).toThrow(
      TypeError,
    )
  })
})
