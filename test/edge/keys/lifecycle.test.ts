import { describe, expect, it } from 'vitest'
import { CLOCK_TOLERANCE_SECONDS } from '../../../shared/constants.ts'
import { ACTIVE_KEY_CACHE_SECONDS } from '../../../edge/constants.ts'
import {
  expiredKeys,
  planRotation,
  publishedKeys,
  removalTime,
  type KeyRecord,
  type LifecycleConfig,
} from '../../../edge/keys/lifecycle.ts'

const cfg: LifecycleConfig = {
  jwksMaxAgeSeconds: 300,
  rotationPeriodSeconds: 3600,
  accessTokenTtlSeconds: 300,
}

function key(kid: string, state: KeyRecord['state'], fields: Partial<KeyRecord> = {}): KeyRecord {
  return {
    kid,
    alg: 'ES256',
    state,
    publicJwk: { kid },
    privateEnc: 'x',
    createdAt: 0,
    activatedAt: state === 'active' ? 0 : null,
    retiredAt: null,
    removeAt: null,
    ...fields,
  }
}

describe('planRotation', () => {
  const keys = [key('a', 'active', { activatedAt: 1000 }), key('n', 'next', { createdAt: 1000 })]

  it('does nothing on schedule before the rotation period is up', () => {
    expect(planRotation(keys, 1000 + 3599, cfg, 'scheduled')).toEqual({ kind: 'none' })
  })

  it('promotes the next key on schedule once the period is up', () => {
    expect(planRotation(keys, 4600, cfg, 'scheduled')).toEqual({
      kind: 'rotate',
      promote: 'n',
      retire: 'a',
      drop: null,
      removeAt: removalTime(4600, cfg),
    })
  })

  it('waits on schedule, and conflicts on request, while the next key is younger than JWKS_MAX_AGE', () => {
    const young = [key('a', 'active', { activatedAt: 0 }), key('n', 'next', { createdAt: 5000 })]
    expect(planRotation(young, 5299, cfg, 'scheduled')).toEqual({ kind: 'none' })
    expect(planRotation(young, 5299, cfg, 'manual')).toMatchObject({ kind: 'conflict' })
    expect(planRotation(young, 5300, cfg, 'manual')).toMatchObject({ kind: 'rotate', promote: 'n' })
  })

  it('in an emergency drops the active key and promotes the next one without waiting', () => {
    const young = [key('a', 'active'), key('n', 'next', { createdAt: 5000 })]
    expect(planRotation(young, 5001, cfg, 'emergency')).toMatchObject({
      kind: 'rotate',
      promote: 'n',
      drop: 'a',
      retire: null,
    })
  })
})

describe('publication', () => {
  it('keeps a retired key for the isolate cache window, the token lifetime and the clock tolerance', () => {
    expect(removalTime(100, cfg)).toBe(
      100 + ACTIVE_KEY_CACHE_SECONDS + 300 + CLOCK_TOLERANCE_SECONDS,
    )
  })

  it('publishes active, next, then retired keys, and drops retired keys at removeAt exactly', () => {
    const keys = [key('r', 'retired', { removeAt: 500 }), key('n', 'next'), key('a', 'active')]
    expect(publishedKeys(keys, 499).map((k) => k.kid)).toEqual(['a', 'n', 'r'])
    expect(publishedKeys(keys, 500).map((k) => k.kid)).toEqual(['a', 'n'])
    expect(expiredKeys(keys, 499)).toEqual([])
    expect(expiredKeys(keys, 500)).toEqual(['r'])
  })
})
