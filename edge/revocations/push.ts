import { DurableObject } from 'cloudflare:workers'
import { createMiddleware } from 'hono/factory'
import { SignJWT } from 'jose'
import { REVOCATION_AUDIENCE, REVOCATION_TOKEN_TYP } from '../../shared/constants.ts'
import { trimTrailingSlashes } from '../../shared/url.ts'
import { readConfig } from '../config.ts'
import {
  REVOCATION_FEED_PAGE_SIZE,
  REVOCATION_PUSH_BACKOFF_MAX_SECONDS,
  REVOCATION_PUSH_BATCH,
  REVOCATION_PUSH_TIMEOUT_MS,
  REVOCATION_PUSH_TOKEN_TTL_SECONDS,
} from '../constants.ts'
import { log } from '../http/log.ts'
import { getSigningKey } from '../keys/signer.ts'
import type { AppEnv } from '../types.ts'
import { listRevocations } from './log.ts'

/** Delivery state of one realtime URL. */
export interface PushTarget {
  url: string
  /** Last cursor the target accepted. */
  cursor: number
  /** Consecutive failures (for backoff). */
  failures: number
  /** Unix ms before which no attempt is made. */
  nextAttemptAt: number
}

/**
 * Pushes revocation events to one realtime URL of `REALTIME_URLS` (docs/protocol.md
 * §6); there is one object per URL (`idFromName(url)`). Each batch is a
 * `revocation+jwt` signed by the edge's active key, retried with exponential
 * backoff until the target accepts it. The work runs in Durable Object
 * alarms, so it survives the request that recorded the event, restarts, and
 * outages of the target. An object runs one alarm at a time, which is why
 * each target has its own: a node that hangs until the timeout never holds
 * back pushes to the others.
 */
export class RevocationPusher extends DurableObject<Env> {
  /**
   * Deliver pending events to `url` soon (called after an event is recorded, and by the cron).
   *
   * @param url - the target this object serves, one of `REALTIME_URLS`
   */
  async kick(url: string): Promise<void> {
    if ((await this.ctx.storage.get<string>('url')) !== url) await this.ctx.storage.put('url', url)
    const alarm = await this.ctx.storage.getAlarm()
    if (alarm === null || alarm > Date.now()) await this.ctx.storage.setAlarm(Date.now())
  }

  /** This object's target and its delivery state; undefined before the first kick or once the URL is no longer configured. */
  async target(): Promise<PushTarget | undefined> {
    const url = await this.ctx.storage.get<string>('url')
    if (!url || !readConfig(this.env).realtimeUrls.includes(url)) return undefined
    return (
      (await this.ctx.storage.get<PushTarget>('target')) ?? {
        url,
        cursor: 0,
        failures: 0,
        nextAttemptAt: 0,
      }
    )
  }

  override async alarm(): Promise<void> {
    const target = await this.target()
    if (!target) return
    const now = Date.now()
    let next = Infinity
    if (target.nextAttemptAt > now) next = target.nextAttemptAt
    else if (await this.deliver(target, now)) next = target.nextAttemptAt || now
    await this.ctx.storage.put('target', target)
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(Math.max(next, Date.now()))
  }

  /** One attempt for one target. Returns whether events remain to send. */
  private async deliver(target: PushTarget, nowMs: number): Promise<boolean> {
    const now = Math.floor(nowMs / 1000)
    const page = await listRevocations(this.env.DB, target.cursor, now)
    if (page.events.length === 0) {
      target.cursor = page.next
      return false
    }
    const events = page.events.slice(0, REVOCATION_PUSH_BATCH)
    const last = events[events.length - 1]!.cursor
    try {
      const token = await this.sign(events, now)
      // Under the node's base path: a node attached to an application's server sits at /realtime.
      const res = await fetch(`${trimTrailingSlashes(target.url)}/internal/revocations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
        signal: AbortSignal.timeout(REVOCATION_PUSH_TIMEOUT_MS),
      })
      await res.body?.cancel()
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
      target.cursor = events.length < page.events.length ? last : page.next
      target.failures = 0
      target.nextAttemptAt = 0
      return events.length < page.events.length || page.events.length === REVOCATION_FEED_PAGE_SIZE
    } catch (err) {
      target.failures++
      const backoff = Math.min(REVOCATION_PUSH_BACKOFF_MAX_SECONDS, 2 ** (target.failures - 1))
      target.nextAttemptAt = nowMs + backoff * 1000
      log('warn', 'revocation push failed', {
        target: target.url,
        failures: target.failures,
        error: (err as Error).message,
      })
      return true
    }
  }

  private async sign(events: unknown[], now: number): Promise<string> {
    const config = readConfig(this.env)
    const signer = await getSigningKey(this.env, now)
    return new SignJWT({ events })
      .setProtectedHeader({ alg: signer.alg, typ: REVOCATION_TOKEN_TYP, kid: signer.kid })
      .setIssuer(config.issuer)
      .setAudience(REVOCATION_AUDIENCE)
      .setJti(crypto.randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + REVOCATION_PUSH_TOKEN_TTL_SECONDS)
      .sign(signer.key)
  }
}

/**
 * Middleware for routes that may record a revocation: once the response is
 * decided, and if `when(status)` says an event may have been recorded, kick
 * the pusher without delaying the response.
 *
 * @param when - which statuses can follow a recorded event
 */
export function pushRevocationsAfter(when: (status: number) => boolean) {
  return createMiddleware<AppEnv>(async function pushRevocationsAfter(c, next) {
    await next()
    if (!when(c.res.status)) return
    c.executionCtx.waitUntil(
      kickRevocationPush(c.env).catch((err: Error) =>
        log('error', 'revocation push kick failed', { error: err.message }),
      ),
    )
  })
}

/**
 * Ask the pusher to deliver what is pending; safe to call often.
 *
 * @param env - the worker's bindings
 */
export async function kickRevocationPush(env: Env): Promise<void> {
  const pushers = env.REVOCATION_PUSHER
  await Promise.all(
    readConfig(env).realtimeUrls.map((url) => pushers.get(pushers.idFromName(url)).kick(url)),
  )
}
