import type { DpopReplayCache } from '../../shared/dpop/index.ts'
import { verifyDpopProofNative } from '../auth/dpop-proof-native.ts'
import { AppError, isAppError } from '../../shared/errors.ts'
import { ownOrigin, type OriginRequest } from './origin-guard.ts'
import { dpopNonceRequired } from '../errors.ts'
import type { DpopNonces } from '../auth/dpop-nonce.ts'

/** Where a proof was presented: the handshake (`auth.dpop`) or an envelope (`dpop`). */
export type DpopContext = 'handshake' | 'in_band'

/** Options of {@link createDpopCheck}. */
export interface DpopCheckOptions {
  /** Socket.IO's path (`/socket.io`): the proofs' `htu` is the public origin, this path and `/`. */
  socketIoPath: string
  /**
   * The URL clients reach this node at, before the Socket.IO path
   * (`REALTIME_PUBLIC_URL`, e.g. `https://rt.example.com`). @default the
   * handshake's own origin: its `Host` (and, with `trustProxy`, the
   * `X-Forwarded-Host`/`-Proto` of your proxy)
   */
  publicUrl?: string
  /** Read `X-Forwarded-Host`/`-Proto` for the own origin (only behind your own proxy). */
  trustProxy: boolean
  /** Where proofs' `jti`s are claimed: Redis when clustered, else this node's bounded memory. */
  replay: DpopReplayCache
  /** Nonces, when the node asks for them (`REALTIME_DPOP_NONCE`). @default none */
  nonces?: DpopNonces
  /** ms clock. */
  now: () => number
  /**
   * Called once per proof checked: `ok`, or the refusal's code and the
   * failed check (`replayed`, `htu`, `ath`, `iat`, `jwk`, `signature`, ...).
   */
  onOutcome?: (context: DpopContext, outcome: string, reason: string) => void
}

/** The parts of a Socket.IO handshake a proof is checked against. */
export interface DpopHandshake extends OriginRequest {
  auth: Record<string, unknown> | undefined
}

/** The DPoP checks of one realtime server (docs/protocol.md §15). */
export interface DpopCheck {
  /**
   * Check the handshake's `auth.dpop` for a bound token: `htm` GET, `htu`
   * this node's Socket.IO URL, `ath` the token's hash, the key `cnf.jkt`,
   * a fresh `jti`.
   *
   * @returns the thumbprint the connection is bound to
   * @throws AppError `dpop_required`, `dpop_invalid`, `dpop_nonce_required`, `unavailable`
   */
  handshake(handshake: DpopHandshake, token: string, jkt: string): Promise<string>
  /**
   * Check an envelope's `dpop` for an in-band bound token: the same rules
   * with `htm` POST.
   *
   * @throws AppError `dpop_required`, `dpop_invalid`, `dpop_nonce_required`, `unavailable`
   */
  inBand(
    handshake: OriginRequest,
    proof: string | undefined,
    token: string,
    jkt: string,
  ): Promise<void>
}

/**
 * The proof checks of a realtime node: the RFC 9449 §4.3 checks of
 * `shared/dpop`'s `verifyDpopProof`, made with node:crypto
 * ({@link verifyDpopProofNative}), then one replay-cache claim. Bearer
 * tokens never come here.
 *
 * @param options - {@link DpopCheckOptions}
 * @example
 * ```ts
 * const dpop = createDpopCheck({ socketIoPath: '/socket.io', trustProxy: false, replay, now: Date.now })
 * socket.data.jkt = await dpop.handshake(socket.handshake, verified.token, verified.claims.cnf.jkt)
 * ```
 */
export function createDpopCheck(options: DpopCheckOptions): DpopCheck {
  const path = `${options.socketIoPath.replace(/\/+$/, '')}/`
  const fixed =
    options.publicUrl === undefined
      ? undefined
      : new URL(`${options.publicUrl.replace(/\/+$/, '')}${path}`)
  const { replay, nonces, now, onOutcome } = options

  /** The `htu` a proof for this connection must name. */
  const htuOf = (request: OriginRequest): URL => {
    if (fixed) return fixed
    const origin = ownOrigin(request, options.trustProxy)
    if (origin === undefined) throw new AppError('dpop_invalid', "htu: the node's URL is unknown")
    return new URL(`${origin}${path}`)
  }

  async function check(
    context: DpopContext,
    request: OriginRequest,
    proof: unknown,
    htm: 'GET' | 'POST',
    token: string,
    jkt: string,
  ): Promise<string> {
    try {
      if (proof === undefined || proof === null || proof === '')
        throw new AppError('dpop_required', 'bound token without a proof')
      if (typeof proof !== 'string') throw new AppError('dpop_invalid', 'proof: not a string')
      // node:crypto, synchronously; jose's verdicts (the differential test holds it to them).
      const verified = verifyDpopProofNative(
        proof,
        {
          htm,
          htu: htuOf(request),
          accessToken: token,
          jkt,
          ...(nonces && { acceptNonce: nonces.accepts }),
        },
        { now: now() },
      )
      if (!(await replay.claim(verified.jti)))
        throw new AppError('dpop_invalid', 'replayed: jti already seen')
      onOutcome?.(context, 'ok', 'ok')
      return verified.jkt
    } catch (err) {
      if (!isAppError(err)) throw err
      onOutcome?.(context, err.code, reasonOf(err))
      if (err.code === 'dpop_nonce_required' && nonces)
        throw dpopNonceRequired(err.message, nonces.current())
      throw err
    }
  }

  return {
    handshake: (handshake, token, jkt) =>
      check('handshake', handshake, handshake.auth?.dpop, 'GET', token, jkt),
    inBand: async (handshake, proof, token, jkt) => {
      await check('in_band', handshake, proof, 'POST', token, jkt)
    },
  }
}

/** Checks a refusal can name in the metrics: a closed set, whatever the input. */
const REASONS: ReadonlySet<string> = new Set([
  'alg',
  'typ',
  'jti',
  'htm',
  'htu',
  'iat',
  'exp',
  'nbf',
  'ath',
  'nonce',
  'jwk',
  'replayed',
])

/** The failed check of a refusal, for the `reason` label: the message's first word, if known. */
function reasonOf(err: AppError): string {
  if (err.code !== 'dpop_invalid') return err.code
  const word = /^[a-z]+/.exec(err.message)?.[0] ?? ''
  if (REASONS.has(word)) return word
  if (word === 'signature') return 'signature'
  if (word === 'no') return 'missing'
  return 'malformed'
}
