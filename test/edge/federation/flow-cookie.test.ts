import { env } from 'cloudflare:workers'
import { base64url } from 'jose'
import { describe, expect, it } from 'vitest'
import { FEDERATION_FLOW_COOKIE_MAX_CHARS } from '../../../edge/constants.ts'
import {
  flowKey,
  openFlow,
  sealFlow,
  type FlowState,
} from '../../../edge/federation/flow-cookie.ts'

const NOW = 1_800_000_000
const flow: FlowState = {
  provider: 'corp',
  state: 'S'.repeat(43),
  codeVerifier: 'V'.repeat(43),
  nonce: 'N'.repeat(43),
  returnTo: 'https://app.example.com/',
  jkt: 'J'.repeat(43),
  exp: NOW + 600,
}
const key = () => flowKey(env.KEY_ENCRYPTION_KEY)

describe('the flow cookie (sealFlow, openFlow)', () => {
  it('opens what it sealed, within its lifetime', async () => {
    const sealed = await sealFlow(flow, await key())
    expect(sealed.length).toBeLessThan(FEDERATION_FLOW_COOKIE_MAX_CHARS)
    expect(await openFlow(sealed, await key(), NOW)).toEqual({ ok: true, flow })
  })

  it('refuses it once expired', async () => {
    const sealed = await sealFlow(flow, await key())
    expect(await openFlow(sealed, await key(), NOW + 600)).toEqual({ ok: false, reason: 'expired' })
  })

  it('refuses a changed payload (another return_to or link target) under the old signature', async () => {
    const [header, , signature] = (await sealFlow(flow, await key())).split('.')
    for (const change of [{ returnTo: 'https://evil.example/' }, { linkSub: 'someone-else' }]) {
      const payload = base64url.encode(JSON.stringify({ ...flow, ...change }))
      expect(await openFlow(`${header}.${payload}.${signature}`, await key(), NOW)).toEqual({
        ok: false,
        reason: 'signature',
      })
    }
  })

  it('refuses a cookie sealed under another KEY_ENCRYPTION_KEY', async () => {
    const other = await flowKey(base64url.encode(new Uint8Array(32).fill(7)))
    const sealed = await sealFlow(flow, other)
    expect(await openFlow(sealed, await key(), NOW)).toEqual({ ok: false, reason: 'signature' })
  })

  it.each([
    ['garbage', 'not-a-jws'],
    [
      'an unsigned token',
      `${base64url.encode('{"alg":"none"}')}.${base64url.encode(JSON.stringify(flow))}.`,
    ],
    ['an oversized value', 'A'.repeat(FEDERATION_FLOW_COOKIE_MAX_CHARS + 1)],
  ])('refuses %s as malformed', async (_name, value) => {
    expect(await openFlow(value, await key(), NOW)).toMatchObject({ ok: false })
  })

  it('refuses a well-signed payload of the wrong shape', async () => {
    const sealed = await sealFlow({ ...flow, state: 'short' } as FlowState, await key())
    expect(await openFlow(sealed, await key(), NOW)).toEqual({ ok: false, reason: 'malformed' })
  })
})
