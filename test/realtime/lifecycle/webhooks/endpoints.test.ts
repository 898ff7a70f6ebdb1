/**
 * `WEBHOOKS` parsing (docs/protocol.md §16) and the retry schedule, as pure
 * functions: every bad entry is one line naming the field and never the
 * secret; the schedule's first retry is within 10 s, then doubles, capped
 * at 1 h.
 */
import { describe, expect, it } from 'vitest'
import { readServiceConfig } from '../../../../realtime/config.ts'
import { parseWebhooks } from '../../../../realtime/lifecycle/webhooks/endpoints.ts'
import {
  retryDelayMs,
  withinRetryWindow,
} from '../../../../realtime/lifecycle/webhooks/schedule.ts'

const SECRET = 'whsec_' + Buffer.alloc(32, 7).toString('base64')
const ok = { url: 'https://hooks.example.com/edgegate', secret: SECRET }

describe('WEBHOOKS', () => {
  it('reads a list of endpoints with optional types, each with a stable id that is not its URL', () => {
    const { endpoints, problems } = parseWebhooks(
      JSON.stringify([ok, { ...ok, url: 'http://127.0.0.1:9000/h', types: ['user.offline'] }]),
    )
    expect(problems).toEqual([])
    expect(endpoints).toEqual([
      { ...ok, id: expect.stringMatching(/^[0-9a-f]{12}$/) },
      { ...ok, url: 'http://127.0.0.1:9000/h', types: ['user.offline'], id: expect.any(String) },
    ])
    expect(parseWebhooks(JSON.stringify([ok])).endpoints[0]!.id).toBe(endpoints[0]!.id)
  })

  const bad: [string, string, RegExp][] = [
    ['not JSON', '[{', /^WEBHOOKS: not JSON$/],
    ['not a list', '{}', /expected a JSON list/],
    ['an entry that is not an object', '[1]', /^WEBHOOKS\[0\]: expected an object$/],
    ['a javascript: URL', JSON.stringify([{ ...ok, url: 'javascript:alert(1)' }]), /\[0\]\.url/],
    [
      'a secret without whsec_',
      JSON.stringify([{ ...ok, secret: SECRET.slice(6) }]),
      /\[0\]\.secret/,
    ],
    [
      'a secret of 16 bytes',
      JSON.stringify([{ ...ok, secret: 'whsec_' + Buffer.alloc(16).toString('base64') }]),
      /\[0\]\.secret/,
    ],
    ['an unknown type', JSON.stringify([{ ...ok, types: ['user.deleted'] }]), /\[0\]\.types/],
    ['an empty type list', JSON.stringify([{ ...ok, types: [] }]), /\[0\]\.types/],
    ['a URL listed twice', JSON.stringify([ok, ok]), /^WEBHOOKS\[1\]\.url: listed twice$/],
    [
      '33 endpoints',
      JSON.stringify(Array.from({ length: 33 }, (_, i) => ({ ...ok, url: `${ok.url}/${i}` }))),
      /more than 32/,
    ],
  ]
  for (const [what, text, line] of bad) {
    it(`refuses ${what} with one line that names it and not the secret`, () => {
      const { endpoints, problems } = parseWebhooks(text)
      expect(endpoints).toEqual([])
      expect(problems).toEqual([expect.stringMatching(line)])
      expect(problems.join()).not.toContain(SECRET.slice(6, 20))
    })
  }

  it('stops the service at start with the problem, through readServiceConfig', () => {
    expect(() => readServiceConfig({ WEBHOOKS: '[1]' })).toThrow(
      /WEBHOOKS\[0\]: expected an object/,
    )
    expect(readServiceConfig({}).server.lifecycle).toMatchObject({
      retentionSeconds: 604_800,
      webhooks: [],
    })
    expect(readServiceConfig({ EVENTS_RETENTION: '3600' }).server.lifecycle?.retentionSeconds).toBe(
      3600,
    )
  })
})

describe('the retry schedule', () => {
  it('retries first within 10 s, doubles with up to 50 % jitter, and caps at 1 hour', () => {
    for (const random of [() => 0, () => 0.999999]) {
      expect(retryDelayMs(1, {}, random)).toBeLessThanOrEqual(10_000)
      for (let n = 2; n < 12; n++) {
        const base = 5000 * 2 ** (n - 1)
        expect(retryDelayMs(n, {}, random)).toBe(
          Math.min(3_600_000, Math.round(base * (1 + random() / 2))),
        )
      }
      expect(retryDelayMs(60, {}, random)).toBe(3_600_000)
    }
  })

  it('tries for at least 24 hours after the event', () => {
    const t = 1_000_000
    expect(withinRetryWindow(t, t + 24 * 3_600_000)).toBe(true)
    expect(withinRetryWindow(t, t + 26 * 3_600_000)).toBe(false)
  })
})
