import { createMiddleware } from 'hono/factory'
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose'
import { verifyDpopProof } from '../../shared/dpop/index.ts'
import { AppError, isAppError } from '../../shared/errors.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { dpopNonces } from './nonce.ts'
import { durableReplayCache } from './replay-cache.ts'
import { dpopServerKey } from './server-key.ts'

/** The response header that carries the edge's current nonce (RFC 9449 §8). */
export const DPOP_NONCE_HEADER = 'DPoP-Nonce'

/**
 * The `DPoP` header of the routes that issue tokens (docs/protocol.md §15):
 * `/auth/login`, `/auth/refresh`, `/auth/signup`, `/auth/email/verify`, and
 * the passkey login and sign-up. A valid proof (RFC 9449 §4.3 through
 * `verifyDpopProof`; `htm` and `htu` this request's; its `jti` claimed in the
 * `DPOP_JTIS` replay cache) puts its key's thumbprint in `c.get('dpopJkt')`,
 * and the session the route opens is bound to it. No header: the route runs
 * unbound, unless `DPOP=required`. A bad proof is 400 `invalid_dpop_proof`
 * before the route runs; with `DPOP_NONCE=on`, a proof without the current (or
 * last window's) nonce is 400 `use_dpop_nonce`, and every answer carries the
 * current nonce in `DPoP-Nonce`. Logs name the failed check and the key's
 * thumbprint, never the proof.
 *
 * @example
 * ```ts
 * app.post('/auth/login', dpopProof(), jsonBody(LoginBody), (c) => login(c, c.get('body')))
 * ```
 */
export function dpopProof() {
  return createMiddleware<AppEnv>(async function dpopProof(c, next) {
    const { dpop } = c.get('config')
    const nowMs = c.get('now')
    let acceptNonce: ((nonce: string | undefined) => boolean) | undefined
    if (dpop.nonce) {
      const nonces = await dpopNonces(
        await dpopServerKey(c.env.KEY_ENCRYPTION_KEY),
        Math.floor(nowMs / 1000),
      )
      // On every answer, success or refusal (RFC 9449 §8.2), readable by a cross-origin page.
      c.header(DPOP_NONCE_HEADER, nonces.current)
      c.header('Access-Control-Expose-Headers', DPOP_NONCE_HEADER)
      acceptNonce = (n) => n === nonces.current || n === nonces.previous
    }
    const proof = c.req.header('dpop')
    if (proof === undefined) {
      if (dpop.mode === 'required') throw refused('no proof, and DPOP=required', undefined)
      await next()
      return
    }
    // Headers joins repeated fields with ", "; a compact JWS has no comma (RFC 9449 §4.3 (1)).
    if (proof.includes(',')) throw refused('more than one DPoP header', undefined)
    let verified
    try {
      verified = await verifyDpopProof(
        proof,
        { htm: c.req.method, htu: c.req.url, ...(acceptNonce && { acceptNonce }) },
        { now: nowMs },
      )
    } catch (err) {
      if (!isAppError(err)) throw err
      const jkt = await claimedJkt(proof)
      if (err.code === 'dpop_nonce_required') {
        log('info', 'dpop nonce asked for', { check: err.message, jkt })
        throw new AppError('use_dpop_nonce', err.message)
      }
      throw refused(err.message, jkt)
    }
    const replay = durableReplayCache(c.env.DPOP_JTIS, {
      key: await dpopServerKey(c.env.KEY_ENCRYPTION_KEY),
      nowMs,
    })
    if (!(await replay.claim(verified.jti))) throw refused('jti: proof replayed', verified.jkt)
    c.set('dpopJkt', verified.jkt)
    await next()
  })
}

function refused(check: string, jkt: string | undefined): AppError<'invalid_dpop_proof'> {
  log('warn', 'dpop proof refused', { check, jkt: jkt ?? null })
  return new AppError('invalid_dpop_proof', `DPoP proof refused: ${check}`)
}

/** The thumbprint of the key a refused proof names, for the log: a public value, or null. */
async function claimedJkt(proof: string): Promise<string | undefined> {
  try {
    const { jwk } = decodeProtectedHeader(proof)
    return jwk ? await calculateJwkThumbprint(jwk as JWK, 'sha256') : undefined
  } catch {
    return undefined
  }
}
