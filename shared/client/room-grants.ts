/**
 * Room grants on the client side (docs/protocol.md §11): where a grant comes
 * from, and whether one held is still worth sending.
 */
import { decodeJwt } from 'jose'
import { ClientError } from './client-error.ts'

/**
 * Fetches a room grant from the application's own endpoint, which checks its
 * rules and asks the edge (docs/room-grants.md), the way Pusher's client
 * calls an auth endpoint for a private channel.
 *
 * @example
 * ```ts
 * const grantProvider: GrantProvider = async (room) => {
 *   const res = await fetch('/api/room-grants', { method: 'POST', body: JSON.stringify({ room }) })
 *   return (await res.json()).grant
 * }
 * ```
 */
export type GrantProvider = (room: string) => Promise<string>

/** A grant this close to its `exp` is fetched afresh before a re-join, in seconds. */
export const GRANT_REFRESH_MARGIN_SECONDS = 5

/**
 * Whether a grant held for a re-join should be replaced: its `exp` is less
 * than the margin away, or it cannot be read. Read with jose's `decodeJwt`,
 * without verification, only to decide when to ask for a new one; the server
 * verifies.
 *
 * @param grant - a compact JWS
 * @param nowMs - the clock
 * @param marginSeconds - @default {@link GRANT_REFRESH_MARGIN_SECONDS}
 * @example
 * ```ts
 * if (grantStale(grant, Date.now())) grant = await grantProvider(room)
 * ```
 */
export function grantStale(
  grant: string,
  nowMs: number,
  marginSeconds = GRANT_REFRESH_MARGIN_SECONDS,
): boolean {
  const exp = expOf(grant)
  return exp === undefined || exp - marginSeconds <= nowMs / 1000
}

/**
 * Ask `provider` for a grant for `room`, giving up after `timeoutMs`: a
 * provider that never answers must not hold a join (or a re-join) forever.
 * A provider that throws, or answers with anything but a string, leaves the
 * room `forbidden` (the refusal that asked for the grant), its error the `cause`:
 * callers of `join` handle one error class, whatever the application's code threw.
 *
 * @throws ClientError `timeout`, or `forbidden` when the provider failed
 */
export async function fetchGrant(
  provider: GrantProvider,
  room: string,
  timeoutMs: number,
): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ClientError('timeout', `grant for ${room}: none within ${timeoutMs} ms`)),
      timeoutMs,
    )
  })
  const asked = (async () => {
    let grant: unknown
    try {
      grant = await provider(room)
    } catch (err) {
      throw new ClientError(
        'forbidden',
        `grant for ${room}: the grant provider failed`,
        undefined,
        {
          cause: err,
        },
      )
    }
    if (typeof grant !== 'string' || grant === '')
      throw new ClientError('forbidden', `grant for ${room}: the grant provider gave no grant`)
    return grant
  })()
  try {
    return await Promise.race([asked, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function expOf(grant: string): number | undefined {
  try {
    const { exp } = decodeJwt(grant)
    return typeof exp === 'number' ? exp : undefined
  } catch {
    return undefined
  }
}
