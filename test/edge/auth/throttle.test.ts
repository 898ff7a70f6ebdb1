import { evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import { beforeAll, describe, expect, it } from 'vitest'
import { clientAddress, loginThrottle } from '../../../edge/auth/throttle.ts'
import {
  LOGIN_FAILURES_PER_ADDRESS,
  LOGIN_FAILURES_PER_USER_ADDRESS,
  LOGIN_THROTTLE_WINDOW_SECONDS,
} from '../../../edge/constants.ts'
import {
  createUser,
  expectError,
  freshAddress,
  login,
  loginOk,
  uniqueName,
  type TestUser,
} from '../support.ts'

async function failTimes(username: string, address: string, times: number) {
  for (let i = 0; i < times; i++) {
    await expectError(await login(username, `wrong-${i}`, address), 401, 'invalid_credentials')
  }
}

async function expectThrottled(res: Response, secrets: string[] = []) {
  const retryAfter = res.headers.get('retry-after')
  await expectError(res, 429, 'rate_limited', secrets)
  expect(retryAfter).toMatch(/^[1-9]\d*$/)
  expect(Number(retryAfter)).toBeLessThanOrEqual(LOGIN_THROTTLE_WINDOW_SECONDS)
  expect(res.headers.get('www-authenticate')).toBeNull()
}

describe('login throttling over HTTP', () => {
  let alice: TestUser
  let bob: TestUser

  beforeAll(async () => {
    alice = await createUser()
    bob = await createUser()
  })

  it('answers the 6th attempt from one address 429 with Retry-After, even with the right password', async () => {
    const a = freshAddress()
    await failTimes(alice.username, a, LOGIN_FAILURES_PER_USER_ADDRESS)
    await expectThrottled(await login(alice.username, alice.password, a), [alice.password])
  })

  it('keeps refusing while throttled, without counting or checking the password', async () => {
    const a = freshAddress()
    await failTimes(alice.username, a, LOGIN_FAILURES_PER_USER_ADDRESS)
    const first = await login(alice.username, 'wrong', a)
    const second = await login(alice.username, alice.password, a)
    await expectThrottled(first)
    await expectThrottled(second)
  })

  it('counts concurrent attempts: of ten parallel wrong passwords at most five are checked', async () => {
    const a = freshAddress()
    const guesses = Array.from({ length: 10 }, (_, i) => login(alice.username, `guess-${i}`, a))
    const statuses = (await Promise.all(guesses)).map((res) => res.status).sort()
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(
      LOGIN_FAILURES_PER_USER_ADDRESS,
    )
    expect(statuses.filter((s) => s !== 401 && s !== 429)).toEqual([])
    await expectThrottled(await login(alice.username, alice.password, a))
  })

  it('lets the same user log in from another address: a stranger cannot lock a user out', async () => {
    const attacker = freshAddress()
    await failTimes(alice.username, attacker, LOGIN_FAILURES_PER_USER_ADDRESS)
    await expectThrottled(await login(alice.username, alice.password, attacker))
    await loginOk(alice, freshAddress())
  })

  it('treats an IPv6 /64 as one client, so rotating addresses inside it does not reset the count', async () => {
    const net = freshAddress().split(':').slice(0, 4).join(':')
    for (let i = 1; i <= LOGIN_FAILURES_PER_USER_ADDRESS; i++) {
      await expectError(
        await login(alice.username, 'wrong', `${net}:${i}::${i}`),
        401,
        'invalid_credentials',
      )
    }
    await expectThrottled(await login(alice.username, alice.password, `${net}:ffff:0:0:1`))
    await expectThrottled(await login(alice.username, alice.password, `${net.toUpperCase()}::7`))
    const groups = net.split(':')
    const neighbour = [...groups.slice(0, 3), (parseInt(groups[3]!, 16) ^ 1).toString(16)].join(':')
    await loginOk(alice, `${neighbour}::1`)
  })

  it('lets another user log in from the throttled address', async () => {
    const a = freshAddress()
    await failTimes(alice.username, a, LOGIN_FAILURES_PER_USER_ADDRESS)
    await loginOk(bob, a)
  })

  it('counts case and compatibility variants of a username as one username', async () => {
    const a = freshAddress()
    const variants = [
      alice.username.toUpperCase(),
      alice.username,
      alice.username.replace(/[a-z]/, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0)),
      alice.username.toUpperCase(),
      alice.username,
    ]
    for (const name of variants)
      await expectError(await login(name, 'wrong', a), 401, 'invalid_credentials')
    await expectThrottled(await login(alice.username, alice.password, a))
  })

  it('counts failures for unknown usernames too', async () => {
    const a = freshAddress()
    const ghost = uniqueName('ghost')
    await failTimes(ghost, a, LOGIN_FAILURES_PER_USER_ADDRESS)
    await expectThrottled(await login(ghost, 'anything', a))
  })

  it("resets a user's counter from that address on a successful login", async () => {
    const a = freshAddress()
    await failTimes(alice.username, a, LOGIN_FAILURES_PER_USER_ADDRESS - 1)
    await loginOk(alice, a)
    await failTimes(alice.username, a, LOGIN_FAILURES_PER_USER_ADDRESS - 1)
    await loginOk(alice, a)
  })

  it('blocks an address after 50 failures spread across many usernames, and only that address', async () => {
    const sprayer = freshAddress()
    for (let i = 0; i < LOGIN_FAILURES_PER_ADDRESS; i++) {
      const res = await login(uniqueName('spray'), 'password1', sprayer)
      await expectError(res, 401, 'invalid_credentials')
    }
    await expectThrottled(await login(bob.username, bob.password, sprayer))
    await loginOk(bob, freshAddress())
  })
})

describe('LoginThrottle (the Durable Object, with an injected clock)', () => {
  const t0 = 1_800_000_000
  const limit = LOGIN_FAILURES_PER_USER_ADDRESS
  const window = LOGIN_THROTTLE_WINDOW_SECONDS

  it('admits attempts up to the limit, then refuses with the seconds until the oldest ages out', async () => {
    const stub = loginThrottle(env, freshAddress())
    for (let i = 0; i < limit; i++)
      expect(await stub.attempt('alice', t0 + i)).toEqual({ allowed: true })
    expect(await stub.attempt('alice', t0 + limit)).toEqual({
      allowed: false,
      retryAfterSeconds: window - limit,
    })
    expect(await stub.attempt('alice', t0 + window - 1)).toEqual({
      allowed: false,
      retryAfterSeconds: 1,
    })
    expect(await stub.attempt('alice', t0 + window)).toEqual({ allowed: true })
  })

  it('does not count refused attempts, so waiting out Retry-After is enough', async () => {
    const stub = loginThrottle(env, freshAddress())
    for (let i = 0; i < limit; i++) await stub.attempt('alice', t0)
    for (let i = 1; i <= 20; i++) expect((await stub.attempt('alice', t0 + i)).allowed).toBe(false)
    expect(await stub.attempt('alice', t0 + window)).toEqual({ allowed: true })
  })

  it('forgets attempts older than the 15-minute window', async () => {
    const stub = loginThrottle(env, freshAddress())
    for (let i = 0; i < limit - 1; i++) await stub.attempt('alice', t0)
    await stub.attempt('alice', t0 + window)
    expect(await stub.attempt('alice', t0 + window)).toEqual({ allowed: true })
  })

  it("takes a successful attempt back: the user's count clears and the address count drops by one", async () => {
    const stub = loginThrottle(env, freshAddress())
    for (let i = 0; i < LOGIN_FAILURES_PER_ADDRESS - 1; i++)
      await stub.attempt(`user-${i % 40}`, t0)
    expect(await stub.attempt('alice', t0)).toEqual({ allowed: true })
    await stub.succeed('alice', t0)
    expect(await stub.attempt('bob', t0)).toEqual({ allowed: true })
    expect((await stub.attempt('carol', t0)).allowed).toBe(false)
  })

  it('keeps its counters across an eviction of the object', async () => {
    const address = freshAddress()
    const stub = loginThrottle(env, address)
    for (let i = 0; i < limit; i++) await stub.attempt('alice', t0)
    await evictDurableObject(stub)
    expect((await loginThrottle(env, address).attempt('alice', t0 + 1)).allowed).toBe(false)
  })

  it('wipes its storage in the alarm once every attempt is past the window', async () => {
    const stub = loginThrottle(env, freshAddress())
    const longAgo = Math.floor(Date.now() / 1000) - window - 60
    for (let i = 0; i < limit; i++) await stub.attempt('alice', longAgo)
    await runInDurableObject(stub, (instance) => instance.alarm())
    expect(await runInDurableObject(stub, (_, state) => state.storage.list())).toEqual(new Map())
    expect(await stub.attempt('alice', longAgo)).toEqual({ allowed: true })
  })
})

describe('clientAddress', () => {
  const from = (ip?: string) =>
    clientAddress(
      new Request('http://edge.test/', {
        headers: ip === undefined ? {} : { 'cf-connecting-ip': ip },
      }),
    )

  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::9', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['not an address', 'not an address'],
    ['zz:1:2:3::1', 'zz:1:2:3::1'],
    ['1::2::3', '1::2::3'],
  ])('keys %j as %j', (ip, key) => {
    expect(from(ip)).toBe(key)
  })

  it("falls back to one shared key when Cloudflare's header is missing", () => {
    expect(from()).toBe('unknown')
  })
})
