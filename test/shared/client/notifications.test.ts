/**
 * Server-published events in the client SDK: a real realtime server on
 * loopback trusting the test issuer, the server API called over HTTP, and
 * a RealtimeClient whose session holds a token minted by that issuer.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  RealtimeClient,
  type ConnectionState,
  type EdgeAuth,
  type Notification,
  type SyncOutcome,
} from '../../../shared/client/index.ts'
import { NotificationTracker } from '../../../shared/client/notifications.ts'
import { post, serviceToken } from '../../realtime/api/service.ts'
import { cleanup, startIssuer, startServer } from '../../realtime/support.ts'
import { until } from '../../realtime/waits.ts'

const clients: RealtimeClient[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await cleanup()
})

/** A session holding one token: the part of EdgeAuth the client reads. */
function session(accessToken: string): EdgeAuth {
  const exp = Math.floor(Date.now() / 1000) + 300
  return {
    current: () => ({ accessToken, exp, scope: '', sub: 'alice' }),
    refresh: async () => ({ accessToken, exp }),
  } as unknown as EdgeAuth
}

async function setUp() {
  const issuer = await startIssuer()
  const { url } = await startServer(issuer)
  const token = await serviceToken(issuer)
  const publish = async (n: number, id = `m-${n}`) => {
    const reply = await post(
      url,
      '/api/v1/publish',
      { to: { user: 'alice' }, event: 'inbox.new', data: { n }, id },
      token,
    )
    expect(reply.status).toBe(202)
    return reply.body as { id: string; offset: string }
  }
  const newClient = async (
    notifications: ConstructorParameters<typeof RealtimeClient>[0]['notifications'] = {},
  ) => {
    const states: ConnectionState[] = []
    const client = new RealtimeClient({
      url,
      auth: session(await issuer.mint({ sub: 'alice', sid: 's-a' })),
      socketOptions: {
        transports: ['websocket'],
        reconnectionDelay: 50,
        reconnectionDelayMax: 200,
      },
      // Backoff near its 500 ms ceiling: the publishes below usually land while it is away.
      random: () => 0.99,
      onStateChange: (state) => states.push(state),
      notifications,
    })
    clients.push(client)
    return { client, states }
  }
  return { issuer, url, token, publish, newClient }
}

describe('RealtimeClient.onNotification', () => {
  it('gets each notification once, and after a reconnect exactly what it missed, in order, through rt:sync', async () => {
    const { issuer, url, token, publish, newClient } = await setUp()
    const syncs: SyncOutcome[] = []
    const { client, states } = await newClient({ onSync: (o) => syncs.push(o) })
    const seen: Notification<{ n: number }>[] = []
    client.onNotification<{ n: number }>('inbox.new', (n) => seen.push(n))
    await client.connect()
    await until(() => syncs.length === 1, { what: 'first sync' })
    expect(syncs[0]).toEqual({ delivered: 0, last: null, gap: false })
    const one = await publish(1)
    await until(() => seen.length === 1, { what: 'live notification' })
    expect(client.notificationOffset).toBe(one.offset)

    // Closed by a service, retryable: the client comes back by itself and syncs.
    expect(
      (await post(url, '/api/v1/disconnect', { user: 'alice', retryable: true }, token)).status,
    ).toBe(202)
    await until(() => states.includes('reconnecting'), { what: 'disconnect' })
    const missed = [await publish(2), await publish(3), await publish(4)]
    await until(() => syncs.length === 2, { what: 'sync after reconnect', timeoutMs: 10_000 })
    await until(() => seen.length >= 4, { what: 'missed notifications' })
    // Whether each came live or through the sync (or both), the handler saw it once, in order.
    expect(seen.map((n) => n.data.n)).toEqual([1, 2, 3, 4])
    expect(seen.slice(1).map((n) => n.offset)).toEqual(missed.map((m) => m.offset))
    expect(syncs[1]).toMatchObject({ gap: false })
    expect(client.notificationOffset).toBe(missed[2]!.offset)
    // The same id from another service client is another notification (v1.2: dedup by from and id).
    const other = await serviceToken(issuer, { client_id: 'svc-other' })
    expect(
      (
        await post(
          url,
          '/api/v1/publish',
          { to: { user: 'alice' }, event: 'inbox.new', data: { n: 4 }, id: 'm-4' },
          other,
        )
      ).status,
    ).toBe(202)
    await publish(5)
    await until(() => seen.length >= 6, { what: 'sixth' })
    expect(seen.map((n) => [n.from, n.data.n])).toEqual([
      ['svc-test', 1],
      ['svc-test', 2],
      ['svc-test', 3],
      ['svc-test', 4],
      ['svc-other', 4],
      ['svc-test', 5],
    ])
  })

  it('shows on a first login what was published before it: a device that never synced asks from "0"', async () => {
    const { publish, newClient } = await setUp()
    const before = [await publish(1), await publish(2)]
    const syncs: SyncOutcome[] = []
    const { client } = await newClient({ onSync: (o) => syncs.push(o) })
    const seen: Notification<{ n: number }>[] = []
    client.onNotification<{ n: number }>('inbox.new', (n) => seen.push(n))
    await client.connect()
    await until(() => syncs.length === 1, { what: 'first sync' })
    expect(seen.map((n) => n.data.n)).toEqual([1, 2])
    expect(syncs[0]).toEqual({ delivered: 2, last: before[1]!.offset, gap: false })
    expect(client.notificationOffset).toBe(before[1]!.offset)
  })

  it('starts from a stored offset, and stays closed after a disconnect that is not retryable', async () => {
    const { url, token, publish, newClient } = await setUp()
    const stored = await publish(1)
    await publish(2)
    const syncs: SyncOutcome[] = []
    const { client, states } = await newClient({
      since: stored.offset,
      onSync: (o) => syncs.push(o),
    })
    const seen: number[] = []
    client.onNotification<{ n: number }>('inbox.new', (n) => seen.push(n.data.n))
    await client.connect()
    await until(() => syncs.length === 1, { what: 'sync' })
    expect(seen).toEqual([2])
    expect((await post(url, '/api/v1/disconnect', { user: 'alice' }, token)).status).toBe(202)
    await until(() => client.connectionState === 'failed', { what: 'failed state' })
    expect(states.slice(-1)).toEqual(['failed'])
  })
})

describe('NotificationTracker', () => {
  it('drops repeats by id, remembers the newest offset, and forgets the oldest ids past its bound', () => {
    const tracker = new NotificationTracker({ maxSeen: 2 })
    const n = (id: string, offset?: string) => ({
      id,
      from: 'svc',
      ts: 1,
      data: null,
      ...(offset && { offset }),
    })
    expect(tracker.accept(n('a', 'o-1'))).toEqual(n('a', 'o-1'))
    expect(tracker.accept(n('a', 'o-1'))).toBeUndefined()
    expect(tracker.accept(n('b'))).toEqual(n('b'))
    expect(tracker.since).toBe('o-1')
    tracker.accept(n('c', 'o-3'))
    expect(tracker.since).toBe('o-3')
    // 'a' was the oldest of three with room for two.
    expect(tracker.accept(n('a'))).toEqual(n('a'))
    expect(tracker.accept({ id: 5, from: 'svc', ts: 1, data: null })).toBeUndefined()
    expect(tracker.accept({ id: 'x', from: 'svc', ts: 1 })).toBeUndefined()
    expect(tracker.accept({ id: 'x', ts: 1, data: null })).toBeUndefined()
  })

  it('keeps the same id from two publishers apart: repeats are the pair (from, id)', () => {
    const tracker = new NotificationTracker()
    const n = (from: string) => ({ id: 'dup-1', from, ts: 1, data: null })
    expect(tracker.accept(n('svc-a'))).toEqual(n('svc-a'))
    expect(tracker.accept(n('svc-b'))).toEqual(n('svc-b'))
    expect(tracker.accept(n('svc-a'))).toBeUndefined()
    // A from that looks like "<id> <from>" of another pair does not collide.
    expect(tracker.accept({ id: 'dup-1', from: 'svc-a x', ts: 1, data: null })).toBeDefined()
  })

  it('syncs from "0" until it has an offset, then from the offset', () => {
    const tracker = new NotificationTracker()
    expect(tracker.syncFrom).toBe('0')
    expect(tracker.since).toBeNull()
    tracker.synced({ delivered: 0, last: null, gap: false })
    expect(tracker.syncFrom).toBe('0')
    tracker.accept({ id: 'a', from: 'svc', ts: 1, data: null, offset: 'o-1' })
    expect(tracker.syncFrom).toBe('o-1')
    expect(new NotificationTracker({ since: 'o-7' }).syncFrom).toBe('o-7')
  })

  it('starts from the stream’s last after a first sync, and jumps to last after a gap', () => {
    const tracker = new NotificationTracker()
    tracker.synced({ delivered: 0, last: 'o-9', gap: false })
    expect(tracker.since).toBe('o-9')
    tracker.accept({ id: 'a', from: 'svc', ts: 1, data: null, offset: 'o-10' })
    tracker.synced({ delivered: 0, last: 'o-10', gap: false })
    expect(tracker.since).toBe('o-10')
    tracker.synced({ delivered: 2, last: 'o-20', gap: true })
    expect(tracker.since).toBe('o-20')
  })
})
