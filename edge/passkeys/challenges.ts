import { isoBase64URL } from '@simplewebauthn/server/helpers'
import { AppError } from '../../shared/errors.ts'
import { PASSKEY_CHALLENGE_BYTES, PASSKEY_CHALLENGE_TTL_SECONDS } from '../constants.ts'

/** The ceremony a challenge was issued for; it is good for that one only (docs/protocol.md §14). */
export type Ceremony = 'register' | 'login' | 'signup'

/** A challenge as issued. */
export interface IssuedChallenge {
  /** What the client sends back as `challengeId` (login and sign-up). */
  id: string
  /** The base64url challenge the authenticator signs over. */
  challenge: string
}

/** A challenge as spent: who it was for. */
export interface SpentChallenge {
  challenge: string
  sub: string | null
  username_key: string | null
}

/**
 * Issue a challenge of {@link PASSKEY_CHALLENGE_BYTES} random bytes for one
 * ceremony, expiring after {@link PASSKEY_CHALLENGE_TTL_SECONDS}.
 *
 * @param db - the D1 binding
 * @param ceremony - what it is for
 * @param bound - the user it is for (register), or the sub and username to create (signup)
 * @param now - Unix seconds
 */
export async function issueChallenge(
  db: D1Database,
  ceremony: Ceremony,
  bound: { sub?: string; usernameKey?: string },
  now: number,
): Promise<IssuedChallenge> {
  const challenge = isoBase64URL.fromBuffer(
    crypto.getRandomValues(new Uint8Array(PASSKEY_CHALLENGE_BYTES)),
  )
  const id = crypto.randomUUID()
  await db
    .prepare(
      `INSERT INTO passkey_challenges (id, challenge, ceremony, sub, username_key, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      id,
      challenge,
      ceremony,
      bound.sub ?? null,
      bound.usernameKey ?? null,
      now,
      now + PASSKEY_CHALLENGE_TTL_SECONDS,
    )
    .run()
  return { id, challenge }
}

/**
 * Spend a challenge: the row is deleted in the same statement that reads it,
 * so of two requests carrying it at most one gets it. Unknown, spent,
 * expired, or issued for another ceremony are all the same 400. Expired
 * rows are pruned by the cron (`pruneAccounts`).
 *
 * @param db - the D1 binding
 * @param ceremony - the ceremony now being completed
 * @param key - the `challengeId` (login, signup) or the challenge itself (register, whose body has no id)
 * @param now - Unix seconds
 * @throws AppError `invalid_request`
 */
export async function spendChallenge(
  db: D1Database,
  ceremony: Ceremony,
  key: { id: string } | { challenge: string },
  now: number,
): Promise<SpentChallenge> {
  const [column, value] = 'id' in key ? ['id', key.id] : ['challenge', key.challenge]
  const row = await db
    .prepare(
      `DELETE FROM passkey_challenges WHERE ${column} = ? AND ceremony = ? AND expires_at > ?
       RETURNING challenge, sub, username_key`,
    )
    .bind(value, ceremony, now)
    .first<SpentChallenge>()
  if (!row)
    throw new AppError(
      'invalid_request',
      'challenge unknown, used, expired or for another ceremony',
    )
  return row
}
