/**
 * The client's outbox (shared/client/outbox.ts) against a fake wire: each
 * emit settles once, held emits go out in order, nothing is sent twice.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ClientError } from '../../../shared/client/client-error.ts'
import { Outbox } from '../../../shared/client/outbox.ts'
import { createEnvelope, type Ack, type Envelope } from '../../../shared/envelope.ts'

type Sent = { event: string; envelope: Envelope; ack: (reply: Ack) => void }

function outbox(limit = 3) {
  const sent: Sent[] = []
  const box = new Outbox({
    limit,
    send: (event, envelope, ack) => sent.push({ event, envelope, ack }),
  })
  return { box, sent }
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err instanceof ClientError ? err.code : `not a ClientError: ${err}`),
  )

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe('Outbox', () => {
  it('sends at once when ready and resolves with the ack data', async () => {
    const { box, sent } = outbox()
    const reply = box.submit('chat:send', createEnvelope('a-1', { text: 'hi' }), 1000, true)
    expect(sent.map((s) => s.envelope.id)).toEqual(['a-1'])
    sent[0]!.ack({ ok: true, data: { id: 'm1' } })
    expect(await reply).toEqual({ id: 'm1' })
  })

  it("rejects with the refusal's code, message and retryAfterMs", async () => {
    const { box, sent } = outbox()
    const reply = box.submit('chat:send', createEnvelope('a-1', {}), 1000, true)
    sent[0]!.ack({
      ok: false,
      error: { code: 'rate_limited', message: 'slow down', retryAfterMs: 250 },
    } as Ack)
    const err = await reply.catch((e: ClientError) => e)
    expect(err).toBeInstanceOf(ClientError)
    expect(err).toMatchObject({ code: 'rate_limited', message: 'slow down', retryAfterMs: 250 })
  })

  it('a malformed ack is a server_error, not a success', async () => {
    const { box, sent } = outbox()
    const reply = box.submit('chat:send', createEnvelope('a-1', {}), 1000, true)
    sent[0]!.ack(null as unknown as Ack)
    expect(await codeOf(reply)).toBe('server_error')
  })

  it('holds emits while not ready and sends them once, in order, on flush', async () => {
    const { box, sent } = outbox()
    const replies = ['a-1', 'a-2', 'a-3'].map((id) =>
      box.submit('chat:send', createEnvelope(id, {}), 1000, false),
    )
    expect(sent).toEqual([])
    expect(box.size).toBe(3)
    box.flush()
    box.flush()
    expect(sent.map((s) => s.envelope.id)).toEqual(['a-1', 'a-2', 'a-3'])
    for (const s of sent) s.ack({ ok: true, data: s.envelope.id })
    expect(await Promise.all(replies)).toEqual(['a-1', 'a-2', 'a-3'])
  })

  it('refuses one emit beyond the limit with queue_full and keeps the held ones', async () => {
    const { box, sent } = outbox(2)
    const held = [1, 2].map((n) => box.submit('e', createEnvelope(`a-${n}`, {}), 1000, false))
    expect(await codeOf(box.submit('e', createEnvelope('a-3', {}), 1000, false))).toBe('queue_full')
    box.flush()
    expect(sent.map((s) => s.envelope.id)).toEqual(['a-1', 'a-2'])
    for (const s of sent) s.ack({ ok: true })
    await Promise.all(held)
  })

  it('times out a held emit (queue time counts) and drops it from the queue; a late ack is ignored', async () => {
    const { box, sent } = outbox()
    const held = codeOf(box.submit('e', createEnvelope('a-1', {}), 1000, false))
    vi.advanceTimersByTime(1000)
    expect(await held).toBe('timeout')
    expect(box.size).toBe(0)
    box.flush()
    expect(sent).toEqual([])

    const inFlight = codeOf(box.submit('e', createEnvelope('a-2', {}), 1000, true))
    vi.advanceTimersByTime(1000)
    expect(await inFlight).toBe('timeout')
    expect(vi.getTimerCount()).toBe(0)
    // The late ack finds nothing to settle.
    expect(() => sent[0]!.ack({ ok: true, data: 'late' })).not.toThrow()
  })

  it('dropInflight rejects what was sent with disconnected and leaves what is held', async () => {
    const { box, sent } = outbox()
    const inFlight = codeOf(box.submit('e', createEnvelope('a-1', {}), 10_000, true))
    const held = box.submit('e', createEnvelope('a-2', {}), 10_000, false)
    box.dropInflight()
    expect(await inFlight).toBe('disconnected')
    box.flush()
    expect(sent.map((s) => s.envelope.id)).toEqual(['a-1', 'a-2'])
    sent[1]!.ack({ ok: true, data: 'ok' })
    expect(await held).toBe('ok')
  })

  it('rejectAll settles held and in-flight emits with its error and leaves no timer', async () => {
    const { box } = outbox()
    const replies = [
      codeOf(box.submit('e', createEnvelope('a-1', {}), 10_000, true)),
      codeOf(box.submit('e', createEnvelope('a-2', {}), 10_000, false)),
    ]
    box.rejectAll(new ClientError('closed', 'client closed'))
    expect(await Promise.all(replies)).toEqual(['closed', 'closed'])
    expect(box.size).toBe(0)
    expect(vi.getTimerCount()).toBe(0)
  })
})
