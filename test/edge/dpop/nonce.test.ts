import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { DPOP_NONCE_WINDOW_SECONDS } from '../../../edge/constants.ts'
import { dpopNonces } from '../../../edge/dpop/nonce.ts'
import { dpopServerKey } from '../../../edge/dpop/server-key.ts'

const T = 1_800_000_020

describe('dpopNonces: stateless rotating nonces', () => {
  it('the same in every isolate for one window; the next window hands out a new one and still accepts the last', async () => {
    const key = await dpopServerKey(env.KEY_ENCRYPTION_KEY)
    const again = await dpopServerKey(env.KEY_ENCRYPTION_KEY)
    const now = await dpopNonces(key, T)
    expect(await dpopNonces(again, T + 1)).toEqual(now)
    const next = await dpopNonces(key, T + DPOP_NONCE_WINDOW_SECONDS)
    expect(next.current).not.toBe(now.current)
    expect(next.previous).toBe(now.current)
    const later = await dpopNonces(key, T + 2 * DPOP_NONCE_WINDOW_SECONDS)
    expect([later.current, later.previous]).not.toContain(now.current)
  })

  it('depends on the secret: another KEY_ENCRYPTION_KEY gives other nonces', async () => {
    const other = await dpopServerKey('b3RoZXItc2VjcmV0LW9mLTMyLWJ5dGVzLWxvbmctISE')
    const mine = await dpopServerKey(env.KEY_ENCRYPTION_KEY)
    expect((await dpopNonces(other, T)).current).not.toBe((await dpopNonces(mine, T)).current)
  })
})
