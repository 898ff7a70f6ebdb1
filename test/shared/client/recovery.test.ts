/**
 * What the client does after a refused handshake or a lost connection
 * (shared/client/recovery.ts), as a table over the contract's codes.
 */
import { describe, expect, it } from 'vitest'
import type { ConnectErrorData, RealtimeErrorPayload } from '../../../shared/events.ts'
import { afterDisconnect, afterRefusal } from '../../../shared/client/recovery.ts'

const refusal = (code: ConnectErrorData['code'], extra: Partial<ConnectErrorData> = {}) =>
  ({ code, retryable: false, refresh: false, ...extra }) as ConnectErrorData

describe('afterRefusal', () => {
  it.each([
    ['transport failure', undefined, { action: 'wait' }],
    ['token_expired', refusal('token_expired', { refresh: true }), { action: 'refresh' }],
    [
      'rate_limited',
      refusal('rate_limited', { retryable: true, retryAfterMs: 1500 }),
      { action: 'retry', minimumMs: 1500 },
    ],
    ['unavailable', refusal('unavailable', { retryable: true }), { action: 'retry', minimumMs: 0 }],
    ['token_revoked', refusal('token_revoked'), { action: 'login', code: 'token_revoked' }],
    ['token_invalid', refusal('token_invalid'), { action: 'login', code: 'token_invalid' }],
    ['token_missing', refusal('token_missing'), { action: 'login', code: 'token_missing' }],
    ['token_in_query', refusal('token_in_query'), { action: 'login', code: 'token_in_query' }],
    [
      'forbidden',
      refusal('forbidden'),
      { action: 'fail', code: 'forbidden', message: 'the message' },
    ],
  ])('%s', (_, data, expected) => {
    expect(afterRefusal(data, 'the message')).toEqual(expected)
  })
})

describe('afterDisconnect', () => {
  const error = (code: RealtimeErrorPayload['code'], retryable?: boolean): RealtimeErrorPayload =>
    retryable === undefined ? { code, message: 'm' } : { code, message: 'm', retryable }

  it.each([
    ['transport close', 'transport close', error('token_revoked'), { action: 'wait' }],
    ['ping timeout', 'ping timeout', undefined, { action: 'wait' }],
    [
      'revoked',
      'io server disconnect',
      error('token_revoked'),
      { action: 'login', code: 'token_revoked' },
    ],
    ['expired', 'io server disconnect', error('token_expired'), { action: 'refresh' }],
    [
      'closed by a service, not retryable',
      'io server disconnect',
      error('disconnected', false),
      { action: 'fail', code: 'disconnected', message: 'closed by the application' },
    ],
    [
      'closed by a service, no retryable flag',
      'io server disconnect',
      error('disconnected'),
      { action: 'fail', code: 'disconnected', message: 'closed by the application' },
    ],
    [
      'closed by a service, retryable',
      'io server disconnect',
      error('disconnected', true),
      { action: 'retry', minimumMs: 0 },
    ],
    [
      'server close with no rt:error',
      'io server disconnect',
      undefined,
      { action: 'retry', minimumMs: 0 },
    ],
  ])('%s', (_, reason, last, expected) => {
    expect(afterDisconnect(reason, last)).toEqual(expected)
  })
})
