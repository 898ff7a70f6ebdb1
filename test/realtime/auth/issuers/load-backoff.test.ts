/**
 * An issuer whose discovery keeps failing is retried with a capped,
 * jittered exponential backoff, not every 2 s forever, and readiness says
 * how long until the next attempt (issue 20 item 7). Fake timers; `fetch`
 * is injected and always fails, as an unreachable host does.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { TrustedIssuers } from '../../../../realtime/auth/issuers/trusted-issuers.ts'
import { ISSUER_LOAD_RETRY_MAX_MS, ISSUER_LOAD_RETRY_MS } from '../../../../realtime/constants.ts'

beforeEach(() => void vi.useFakeTimers())
afterEach(() => void vi.useRealTimers())

function failing(random: () => number) {
  const attempts: number[] = []
  const issuers = new TrustedIssuers({
    issuers: [
      {
        issuer: 'https://down.example',
        discovery: 'https://down.example/.well-known/openid-configuration',
        audience: 'realtime',
        algorithms: ['ES256'],
        requireTyp: true,
        scopeClaim: 'scope',
      },
    ],
    fetch: async () => {
      attempts.push(Date.now())
      throw new TypeError('fetch failed: getaddrinfo ENOTFOUND down.example')
    },
    random,
  })
  return { issuers, attempts }
}

describe('loading an issuer whose discovery fails', () => {
  it.each([
    ['the top of each jittered range', () => 0.999],
    ['the bottom of each jittered range', () => 0],
  ])(
    'backs off exponentially up to the cap (%s), and readiness gives the next attempt',
    async (_, random) => {
      const { issuers, attempts } = failing(random)
      issuers.start()
      await vi.advanceTimersByTimeAsync(30 * 60_000)
      issuers.close()
      const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!)
      // Every 2 s for 30 minutes would be 900 attempts.
      expect(attempts.length).toBeLessThan(30)
      expect(gaps[0]).toBeGreaterThanOrEqual(ISSUER_LOAD_RETRY_MS)
      for (const gap of gaps) {
        expect(gap).toBeGreaterThanOrEqual(ISSUER_LOAD_RETRY_MS)
        expect(gap).toBeLessThanOrEqual(ISSUER_LOAD_RETRY_MAX_MS)
      }
      expect(Math.max(...gaps)).toBeGreaterThanOrEqual(ISSUER_LOAD_RETRY_MAX_MS / 2)
    },
  )

  it('says in readiness how many attempts failed and when the next one is', async () => {
    const { issuers } = failing(() => 0.5)
    issuers.start()
    await vi.advanceTimersByTimeAsync(60_000)
    const [reason] = issuers.notReadyReasons()
    issuers.close()
    expect(reason).toMatch(
      /^issuer https:\/\/down\.example: discovery not loaded \(\d+ attempts failed; next in \d+ s\)$/,
    )
  })
})
