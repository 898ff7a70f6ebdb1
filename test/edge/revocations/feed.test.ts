import { env } from 'cloudflare:workers'
import { decodeJwt } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { app } from '../../../edge/app.ts'
import { REVOCATION_FEED_PAGE_SIZE } from '../../../edge/constants.ts'
import type { RevocationEvent } from '../../../shared/claims.ts'
import {
  ADMIN_TOKEN,
  FEED_TOKEN,
  call,
  createUser,
  expectBearerChallenge,
  expectError,
  feed,
  loginOk,
  postJson,
  refresh,
} from '../support.ts'

const auth = { authorization: `Bearer ${FEED_TOKEN}` }

/** The sids and sub whose revocations beforeAll caused, in order. */
const caused: { kind: RevocationEvent['kind']; id: string }[] = []

beforeAll(async () => {
  const alice = await createUser()
  const bob = await createUser()

  const out = await loginOk(alice)
  expect((await postJson('/auth/logout', { refresh_token: out.refresh_token })).status).toBe(204)
  caused.push({ kind: 'session', id: decodeJwt(out.access_token).sid as string })

  const reused = await loginOk(alice)
  await refresh(reused.refresh_token)
  await refresh(reused.refresh_token)
  caused.push({ kind: 'session', id: decodeJwt(reused.access_token).sid as string })

  const disabled = await call(`/admin/users/${encodeURIComponent(bob.username)}/disable`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  })
  expect(disabled.status).toBe(204)
  caused.push({ kind: 'user', id: bob.sub })
})

describe('GET /auth/revocations', () => {
  it('lists the events in cursor order with exactly cursor, kind, id, at, until, and next', async () => {
    const res = await call('/auth/revocations?after=0', { headers: auth })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const page = (await res.json()) as { events: RevocationEvent[]; next: number }
    expect(Object.keys(page).sort()).toEqual(['events', 'next'])
    expect(page.events.map(({ kind, id }) => ({ kind, id }))).toEqual(caused)
    for (const event of page.events) {
      expect(Object.keys(event).sort()).toEqual(['at', 'cursor', 'id', 'kind', 'until'])
      expect(Number.isInteger(event.cursor) && event.cursor > 0).toBe(true)
      expect(event.until).toBeGreaterThan(event.at)
    }
    const cursors = page.events.map((e) => e.cursor)
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b))
    expect(new Set(cursors).size).toBe(cursors.length)
    expect(page.next).toBe(cursors.at(-1))
  })

  it('treats a missing after as 0', async () => {
    const res = await call('/auth/revocations', { headers: auth })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(await feed(0))
  })

  it('answers no events and the same next when asked after next', async () => {
    const { next } = await feed(0)
    expect(await feed(next)).toEqual({ events: [], next })
    expect(await feed(next)).toEqual({ events: [], next })
  })

  it('lists only the events after the given cursor', async () => {
    const all = (await feed(0)).events
    const later = await feed(all[0]!.cursor)
    expect(later.events).toEqual(all.slice(1))
  })

  it('picks up a new event on the next poll from the previous next', async () => {
    const { next } = await feed(0)
    const user = await createUser()
    const tokens = await loginOk(user)
    await postJson('/auth/logout', { refresh_token: tokens.refresh_token })
    const page = await feed(next)
    expect(page.events.map(({ kind, id }) => ({ kind, id }))).toEqual([
      { kind: 'session', id: decodeJwt(tokens.access_token).sid },
    ])
    expect(page.next).toBe(page.events[0]!.cursor)
  })

  it('leaves out events whose until has passed, while next still moves past them', async () => {
    const { next } = await feed(0)
    const past = Math.floor(Date.now() / 1000) - 3600
    await env.DB.prepare(
      `INSERT INTO revocations (kind, id, at, until) VALUES ('session', 'stale-sid', ?, ?)`,
    )
      .bind(past - 400, past)
      .run()
    const page = await feed(next)
    expect(page.events).toEqual([])
    expect(page.next).toBeGreaterThan(next)
  })

  it(`pages ${REVOCATION_FEED_PAGE_SIZE} events at a time and next leads to the rest`, async () => {
    const { next: start } = await feed(0)
    const now = Math.floor(Date.now() / 1000)
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
       INSERT INTO revocations (kind, id, at, until) SELECT 'session', 'bulk-' || i, ?, ? FROM n`,
    )
      .bind(REVOCATION_FEED_PAGE_SIZE + 3, now, now + 600)
      .run()
    const first = await feed(start)
    expect(first.events).toHaveLength(REVOCATION_FEED_PAGE_SIZE)
    expect(first.next).toBe(first.events.at(-1)!.cursor)
    const second = await feed(first.next)
    expect(second.events.map((e) => e.id)).toEqual(['bulk-501', 'bulk-502', 'bulk-503'])
    expect(await feed(second.next)).toEqual({ events: [], next: second.next })
  })
})

describe('GET /auth/revocations: refusals', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong token', { authorization: 'Bearer wrong-feed-token' }],
    ['the admin token', { authorization: `Bearer ${ADMIN_TOKEN}` }],
    [
      'the feed token as Basic credentials',
      { authorization: `Basic ${btoa(`feed:${FEED_TOKEN}`)}` },
    ],
    ['the feed token in the query', {}, `&token=${FEED_TOKEN}`],
  ])('answers 401 unauthorized with a bearer challenge for %s', async (_, headers, query = '') => {
    const res = await call(`/auth/revocations?after=0${query}`, { headers })
    expectBearerChallenge(res)
    const body = await expectError(res, 401, 'unauthorized', [FEED_TOKEN])
    expect(body).not.toHaveProperty('events')
  })

  it.each([
    ['-1'],
    ['abc'],
    [''],
    ['1.5'],
    ['1e3'],
    ['0x10'],
    [' 1'],
    ['1 '],
    ['9'.repeat(16)],
    ['NaN'],
  ])('answers 400 invalid_request for after=%j', async (after) => {
    const res = await call(`/auth/revocations?after=${encodeURIComponent(after)}`, {
      headers: auth,
    })
    await expectError(res, 400, 'invalid_request')
  })

  it('checks the token before the query: a stranger with a bad cursor gets 401', async () => {
    await expectError(await call('/auth/revocations?after=-1'), 401, 'unauthorized')
  })

  it.each([
    ['unset', undefined],
    ['empty', ''],
  ])('answers 503 unavailable, never open, when REVOCATION_FEED_TOKEN is %s', async (_, value) => {
    const unconfigured = { ...env, REVOCATION_FEED_TOKEN: value } as unknown as Env
    for (const authorization of [`Bearer ${FEED_TOKEN}`, '']) {
      const res = await app.request(
        '/auth/revocations?after=0',
        { headers: { authorization } },
        unconfigured,
      )
      await expectError(res, 503, 'unavailable', [FEED_TOKEN])
    }
  })
})
