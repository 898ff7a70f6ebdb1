import { env } from 'cloudflare:workers'
import { describe, expect, it } from 'vitest'
import { ACTIVE_KEY_CACHE_SECONDS } from '../../../edge/constants.ts'
import { forgetSigningKey, getSigningKey } from '../../../edge/keys/signer.ts'
import { keyStore } from '../../../edge/keys/store.ts'

describe('the isolate signing-key cache', () => {
  it('signs without asking the KEYS object inside the cache window, and picks up a rotation after it', async () => {
    forgetSigningKey()
    const t0 = Math.floor(Date.now() / 1000)
    const first = await getSigningKey(env, t0)
    // Rotate behind this isolate's back (as another isolate's admin call would).
    const rotated = await keyStore(env).rotate(t0 + 1, 'emergency')
    expect(rotated).toMatchObject({ kind: 'rotated', dropped: first.kid })
    // Inside the window the cached key is used: no round trip, bounded staleness.
    const cached = await getSigningKey(env, t0 + ACTIVE_KEY_CACHE_SECONDS - 1)
    expect(cached.kid).toBe(first.kid)
    expect(cached.key).toBe(first.key)
    // At the window's end the isolate asks again and gets the new active key.
    const fresh = await getSigningKey(env, t0 + ACTIVE_KEY_CACHE_SECONDS)
    expect(fresh.kid).not.toBe(first.kid)
    expect(fresh.kid).toBe(rotated.kind === 'rotated' ? rotated.active : '')
  })

  it('shares one fetch between concurrent cold requests', async () => {
    forgetSigningKey()
    const now = Math.floor(Date.now() / 1000) + 10_000
    const keys = await Promise.all(Array.from({ length: 5 }, () => getSigningKey(env, now)))
    expect(new Set(keys.map((k) => k.key)).size).toBe(1)
  })

  it('imports the private key as non-extractable', async () => {
    forgetSigningKey()
    const { key } = await getSigningKey(env, Math.floor(Date.now() / 1000))
    expect(key.extractable).toBe(false)
    expect(key.type).toBe('private')
    await expect(crypto.subtle.exportKey('jwk', key)).rejects.toThrow()
  })
})
