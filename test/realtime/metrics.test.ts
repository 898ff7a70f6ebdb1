import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, refusal, startIssuer, startServer } from './support.ts'
import { request } from './waits.ts'

afterEach(cleanup)

/** The value of one sample line of a Prometheus text exposition, or undefined when absent. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('GET /metrics', () => {
  it('counts handshakes by outcome, messages by event and outcome, tokens by kid, and open connections', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const socket = await connect(url, { auth: { token: await issuer.mint() } })
    await refusal(url)
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    for (let i = 0; i < 2; i++) {
      expect(
        await request(socket, 'chat:send', envelope({ room: 'lobby', text: 'hi' })),
      ).toMatchObject({ ok: true })
    }
    expect(await request(socket, 'chat:send', envelope({ room: 'lobby', text: '' }))).toMatchObject(
      { ok: false },
    )
    expect(await request(socket, 'no:such', envelope({}))).toMatchObject({ ok: false })

    const res = await fetch(`${url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(sample(text, 'realtime_handshakes_total', 'outcome="ok"')).toBe(1)
    expect(sample(text, 'realtime_handshakes_total', 'outcome="token_missing"')).toBe(1)
    expect(sample(text, 'realtime_messages_total', 'event="rt:join",outcome="ok"')).toBe(1)
    expect(sample(text, 'realtime_messages_total', 'event="chat:send",outcome="ok"')).toBe(2)
    expect(
      sample(text, 'realtime_messages_total', 'event="chat:send",outcome="envelope_invalid"'),
    ).toBe(1)
    // Unregistered names share one label value, so clients cannot grow the series without bound.
    expect(
      sample(text, 'realtime_messages_total', 'event="unregistered",outcome="unknown_event"'),
    ).toBe(1)
    expect(text).not.toContain('no:such')
    expect(sample(text, 'realtime_tokens_verified_total', `kid="${issuer.key.kid}"`)).toBe(1)
    expect(sample(text, 'realtime_connections', '')).toBeUndefined()
    expect(text).toMatch(/^realtime_connections 1$/m)

    // Scraping again reports the same totals, not twice them.
    const again = await (await fetch(`${url}/metrics`)).text()
    expect(sample(again, 'realtime_messages_total', 'event="chat:send",outcome="ok"')).toBe(2)
  })

  it('counts signature checks by alg: a reconnect with a token the node has verified needs none', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer)
    const token = await issuer.mint()
    const first = await connect(url, { auth: { token } })
    first.disconnect()
    await connect(url, { auth: { token } })
    const text = await (await fetch(`${url}/metrics`)).text()
    expect(sample(text, 'realtime_tokens_verified_total', `kid="${issuer.key.kid}"`)).toBe(2)
    expect(sample(text, 'realtime_signature_checks_total', 'alg="ES256"')).toBe(1)
  })
})
