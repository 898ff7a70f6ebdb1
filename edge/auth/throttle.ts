import { DurableObject } from 'cloudflare:workers'
import {
  LOGIN_FAILURES_PER_ADDRESS,
  LOGIN_FAILURES_PER_USER_ADDRESS,
  LOGIN_THROTTLE_WINDOW_SECONDS,
} from '../constants.ts'

/** The verdict before a login attempt. */
export type ThrottleVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number }

const ADDRESS = 'address'

/**
 * Login and refresh throttling for one client address (`idFromName(address)`): a sliding
 * window of failures for the address as a whole and for each username tried
 * from it. Keying every counter by address is what keeps a stranger from
 * locking a user out: failures from elsewhere land in another object.
 * Counters live in memory, mirrored to storage, and are wiped by an alarm
 * once the window has passed.
 */
export class LoginThrottle extends DurableObject<Env> {
  private failures = new Map<string, number[]>()
  /** Request counters ({@link take}): per bucket, its window and the admitted hits in it. */
  private hits = new Map<string, { windowSeconds: number; times: number[] }>()
  private loaded: Promise<void>

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.loaded = ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.get<[string, number[]][]>('failures')
      if (stored) this.failures = new Map(stored)
      const hits =
        await ctx.storage.get<[string, { windowSeconds: number; times: number[] }][]>('hits')
      if (hits) this.hits = new Map(hits)
    })
  }

  /**
   * Admit or refuse one request in `bucket` (e.g. `refresh`): at most `limit`
   * admitted within any `windowSeconds`. Only admitted requests count, so the
   * stored list never holds more than `limit` entries.
   *
   * @param bucket - the counter's name within this address
   * @param limit - requests admitted per window
   * @param windowSeconds - the sliding window
   * @param now - Unix seconds
   */
  async take(
    bucket: string,
    limit: number,
    windowSeconds: number,
    now: number,
  ): Promise<ThrottleVerdict> {
    await this.loaded
    const times = (this.hits.get(bucket)?.times ?? []).filter((t) => t > now - windowSeconds)
    if (times.length >= limit) {
      return {
        allowed: false,
        retryAfterSeconds: times[times.length - limit]! + windowSeconds - now,
      }
    }
    times.push(now)
    this.hits.set(bucket, { windowSeconds, times })
    await this.persist(now)
    return { allowed: true }
  }

  /**
   * Admit or refuse one login attempt for `userKey` from this address. An
   * admitted attempt counts as a failure at once, so parallel attempts cannot
   * all pass the check before any of them has failed; {@link succeed} takes
   * it back.
   *
   * @param userKey - the normalized username
   * @param now - Unix seconds
   */
  async attempt(userKey: string, now: number): Promise<ThrottleVerdict> {
    await this.loaded
    const wait = Math.max(
      this.wait(ADDRESS, LOGIN_FAILURES_PER_ADDRESS, now),
      this.wait(`user:${userKey}`, LOGIN_FAILURES_PER_USER_ADDRESS, now),
    )
    if (wait > 0) return { allowed: false, retryAfterSeconds: wait }
    for (const key of [ADDRESS, `user:${userKey}`]) {
      const list = this.live(key, now)
      list.push(now)
      this.failures.set(key, list)
    }
    await this.persist(now)
    return { allowed: true }
  }

  /**
   * A successful login clears that username's failures from this address and
   * takes its own attempt (admitted at `now`) back out of the address count.
   */
  async succeed(userKey: string, now: number): Promise<void> {
    await this.loaded
    this.failures.delete(`user:${userKey}`)
    const address = this.failures.get(ADDRESS) ?? []
    const own = address.lastIndexOf(now)
    if (own >= 0) address.splice(own, 1)
    await this.persist(now)
  }

  override async alarm(): Promise<void> {
    const now = Math.floor(Date.now() / 1000)
    for (const key of [...this.failures.keys()]) {
      if (this.live(key, now).length === 0) this.failures.delete(key)
    }
    for (const [bucket, { windowSeconds, times }] of [...this.hits]) {
      if (!times.some((t) => t > now - windowSeconds)) this.hits.delete(bucket)
    }
    if (this.failures.size === 0 && this.hits.size === 0) await this.ctx.storage.deleteAll()
    else await this.persist(now)
  }

  private live(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((t) => t > now - LOGIN_THROTTLE_WINDOW_SECONDS)
  }

  /** Seconds until `key` drops below `limit` failures in the window; 0 if it is below now. */
  private wait(key: string, limit: number, now: number): number {
    const list = this.live(key, now)
    if (list.length < limit) return 0
    return list[list.length - limit]! + LOGIN_THROTTLE_WINDOW_SECONDS - now
  }

  private async persist(now: number): Promise<void> {
    await this.ctx.storage.put({ failures: [...this.failures], hits: [...this.hits] })
    await this.ctx.storage.setAlarm((now + LOGIN_THROTTLE_WINDOW_SECONDS + 1) * 1000)
  }
}

/**
 * The throttle of one client address.
 *
 * @param env - the worker's bindings
 * @param address - the client address (`CF-Connecting-IP`)
 */
export function loginThrottle(env: Env, address: string): DurableObjectStub<LoginThrottle> {
  return env.LOGIN_THROTTLE.get(env.LOGIN_THROTTLE.idFromName(address))
}

/**
 * The client's address: `CF-Connecting-IP`, which Cloudflare sets and
 * overwrites on every request, so a client cannot choose it. An IPv6 client
 * usually holds a whole /64 and can pick any address in it, so IPv6 is
 * throttled by its /64; an IPv4-mapped address counts as its IPv4 address.
 */
export function clientAddress(req: Request): string {
  const ip = req.headers.get('cf-connecting-ip')
  if (!ip) return 'unknown'
  return ip.includes(':') ? ipv6Network(ip) : ip
}

/** `a:b:c:d::/64` for an IPv6 address; the input unchanged if it does not parse. */
function ipv6Network(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)
  if (mapped) return mapped[1]!
  const halves = ip.split('::')
  if (halves.length > 2) return ip
  const [head = [], tail] = halves.map((h) => (h ? h.split(':') : []))
  const zeros =
    tail === undefined ? [] : Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0')
  const groups = [...head, ...zeros, ...(tail ?? [])]
  const network = groups.slice(0, 4)
  if (network.length < 4 || !network.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return ip
  return `${network.map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`
}
