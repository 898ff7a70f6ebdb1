import { afterEach, describe, expect, it } from 'vitest'
import { cleanup, connect, envelope, startIssuer, startServer } from '../support.ts'
import { disconnection, record, request, settle, timeline, until } from '../waits.ts'

afterEach(cleanup)

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** Two wheel ticks (250 ms each) and some: long enough for a due deadline to have fired. */
const TICKS_MS = 700

describe('expiry in real time', () => {
  it('sends rt:expiring before exp, then rt:error token_expired, then disconnects a socket that did not refresh', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { clockToleranceSeconds: 1 })
    const iat = nowSeconds()
    const exp = iat + 4
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ iat, nbf: iat, exp }) },
    })
    const events = timeline(socket)
    let noticeAt = 0
    socket.once('rt:expiring', () => (noticeAt = Date.now()))
    const reason = await disconnection(socket)

    expect(reason).toBe('io server disconnect')
    expect(events).toEqual([
      ['rt:expiring', { exp }],
      ['rt:error', { code: 'token_expired', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
    // A 4 s lifetime: the notice comes a tenth of the lifetime (at least 1 s) ahead, so before exp.
    expect(noticeAt).toBeLessThan(exp * 1000)
  })

  it('does not disconnect a socket that sent rt:auth with a later token at the old exp', async () => {
    const issuer = await startIssuer()
    const { url } = await startServer(issuer, { clockToleranceSeconds: 1 })
    const iat = nowSeconds()
    const oldExp = iat + 3
    const stale = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-x', sid: 's-x', iat, nbf: iat, exp: oldExp }) },
    })
    const fresh = await connect(url, {
      auth: { token: await issuer.mint({ sub: 'u-y', sid: 's-y', iat, nbf: iat, exp: oldExp }) },
    })
    const freshErrors = record(fresh, 'rt:error')
    const freshNotices = record(fresh, 'rt:expiring')
    const newExp = nowSeconds() + 300
    const later = await issuer.mint({ sub: 'u-y', sid: 's-y', exp: newExp })
    // The old notice is due as little as 0.5 s after `iat` is read (1 s lead plus up to 0.5 s of
    // spread, `iat` floored), so on a slow machine it may rightly arrive before the refresh. What
    // must not arrive is one after it: note how many came before the ack, in arrival order.
    let noticesBeforeRefresh = -1
    const refreshed = new Promise((resolve, reject) => {
      const onAck = (err: Error | null, reply: unknown) => {
        noticesBeforeRefresh = freshNotices.length
        if (err) reject(err)
        else resolve(reply)
      }
      fresh.timeout(5000).emit('rt:auth', envelope(null, { token: later }), onAck)
    })
    expect(await refreshed).toEqual({ ok: true, data: { exp: newExp } })

    // Both had the same deadline, in the same wheel slot: when the stale one is gone, the fresh one's old deadline has passed too.
    expect(await disconnection(stale)).toBe('io server disconnect')
    expect(await request(fresh, 'rt:join', envelope({ room: 'lobby' }))).toEqual({
      ok: true,
      data: { room: 'lobby' },
    })
    expect(fresh.connected).toBe(true)
    expect(freshErrors).toEqual([])
    expect(freshNotices.slice(noticesBeforeRefresh)).not.toContainEqual({ exp: oldExp })
  })
})

describe('expiry on the server clock', () => {
  /**
   * A server whose clock the test sets: real time until the first
   * `setServerTime`, then held at the time set. A held clock keeps each
   * "not yet" check at the instant it names however long the wait or the
   * round trip after it takes (a running clock would drift into the deadline
   * on a slow machine); the wheel still ticks in real time.
   */
  async function skewed(options: Parameters<typeof startServer>[1] = {}) {
    const issuer = await startIssuer()
    let heldMs: number | undefined
    const { server, url } = await startServer(issuer, {
      ...options,
      now: () => heldMs ?? Date.now(),
    })
    const setServerTime = (seconds: number) => {
      heldMs = seconds * 1000
    }
    return { issuer, server, url, setServerTime }
  }

  it.each([
    [300, 30],
    [100, 10],
    [60, 6],
  ])(
    'for a %i s token, sends rt:expiring at least %i s before exp, and at most 2 s (or half the lead) earlier',
    async (lifetime, lead) => {
      const { issuer, url, setServerTime } = await skewed()
      const iat = nowSeconds()
      const exp = iat + lifetime
      const socket = await connect(url, {
        auth: { token: await issuer.mint({ iat, nbf: iat, exp }) },
      })
      const notices = record(socket, 'rt:expiring')
      // Notices are spread over a little extra lead so sockets sharing an exp do not refresh in one burst.
      setServerTime(exp - lead - Math.min(lead / 2, 2) - 1)
      await settle(TICKS_MS)
      expect(notices).toEqual([])
      setServerTime(exp - lead + 0.5)
      await until(() => notices.length > 0, { what: 'rt:expiring' })
      expect(notices).toEqual([{ exp }])
      expect(socket.connected).toBe(true)
    },
  )

  it('disconnects at exp plus the clock tolerance, not before', async () => {
    const { issuer, url, setServerTime } = await skewed({ clockToleranceSeconds: 5 })
    const exp = nowSeconds() + 300
    const socket = await connect(url, { auth: { token: await issuer.mint({ exp }) } })
    const events = timeline(socket)
    setServerTime(exp + 4)
    await settle(TICKS_MS)
    expect(socket.connected).toBe(true)
    expect(await request(socket, 'rt:join', envelope({ room: 'lobby' }))).toMatchObject({
      ok: true,
    })
    const gone = disconnection(socket)
    setServerTime(exp + 5.5)
    expect(await gone).toBe('io server disconnect')
    expect(events.slice(-2)).toEqual([
      ['rt:error', { code: 'token_expired', message: expect.any(String) }],
      ['disconnect', 'io server disconnect'],
    ])
  })

  it('refuses a message on a connection whose token has expired with token_expired and disconnects it', async () => {
    const { issuer, url, setServerTime } = await skewed({ clockToleranceSeconds: 0 })
    const exp = nowSeconds() + 300
    const socket = await connect(url, { auth: { token: await issuer.mint({ exp }) } })
    const errors = record(socket, 'rt:error')
    const gone = disconnection(socket)
    setServerTime(exp + 1)
    socket.emit('rt:join', envelope({ room: 'lobby' }, { id: 'late-1' }))
    expect(await gone).toBe('io server disconnect')
    // Whichever saw it first, the pipeline or the wheel, the client is told why.
    expect(errors).toEqual([expect.objectContaining({ code: 'token_expired' })])
  })

  it('moves both deadlines to the new exp on an in-band refresh', async () => {
    const { issuer, url, setServerTime } = await skewed({ clockToleranceSeconds: 5 })
    const iat = nowSeconds()
    const oldExp = iat + 60
    const socket = await connect(url, {
      auth: { token: await issuer.mint({ iat, nbf: iat, exp: oldExp }) },
    })
    const notices = record(socket, 'rt:expiring')
    const errors = record(socket, 'rt:error')
    const newExp = iat + 300
    expect(
      await request(
        socket,
        'rt:auth',
        envelope(null, { token: await issuer.mint({ iat, nbf: iat, exp: newExp }) }),
      ),
    ).toEqual({
      ok: true,
      data: { exp: newExp },
    })
    setServerTime(oldExp + 10)
    await settle(TICKS_MS)
    expect(socket.connected).toBe(true)
    expect(notices).toEqual([])
    expect(errors).toEqual([])
    setServerTime(newExp - 29)
    await until(() => notices.length > 0, { what: 'rt:expiring for the new exp' })
    expect(notices).toEqual([{ exp: newExp }])
  })
})
