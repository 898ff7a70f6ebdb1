import type { Context } from 'hono'
import type * as v from 'valibot'
import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import { decodeClientDataJSON, isoBase64URL } from '@simplewebauthn/server/helpers'
import type { AccessClaims } from '../../shared/claims.ts'
import { AppError } from '../../shared/errors.ts'
import { PASSKEYS_PER_USER_MAX } from '../constants.ts'
import { log } from '../http/log.ts'
import type { AppEnv } from '../types.ts'
import { issueChallenge, spendChallenge } from './challenges.ts'
import type { PasskeyConfig } from './config.ts'
import type { RegisterBody } from './schemas.ts'
import { insertPasskey, listPasskeys, type PasskeyRow } from './store.ts'

type ClaimsEnv = AppEnv & { Variables: { claims: AccessClaims } }

/** The public-key algorithms accepted: ES256, EdDSA and RS256 (COSE ids). */
export const PASSKEY_ALGORITHMS = [-7, -8, -257]

/**
 * The creation options of docs/protocol.md §14: a discoverable credential
 * (`residentKey: "required"`), user verification preferred, no attestation.
 *
 * @param config - the relying party
 * @param user - the user id (their `sub`) and name
 * @param challenge - an issued challenge
 * @param exclude - credentials the user already has
 */
export function creationOptions(
  config: PasskeyConfig,
  user: { sub: string; username: string },
  challenge: string,
  exclude: Pick<PasskeyRow, 'id' | 'transports'>[] = [],
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: config.rpName,
    rpID: config.rpId,
    userName: user.username,
    userID: new Uint8Array(new TextEncoder().encode(user.sub)),
    challenge: new Uint8Array(isoBase64URL.toBuffer(challenge)),
    attestationType: 'none',
    excludeCredentials: exclude.map((p) => ({ id: p.id })),
    authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
    supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
  })
}

/**
 * Verify a registration against its spent challenge and the relying party;
 * every failure (origin, RP id, type, algorithm, malformed attestation) is
 * one 400, its reason logged.
 *
 * @returns the row to store (without `sub`, `name` and `created_at`)
 * @throws AppError `invalid_request`
 */
export async function verifyNewPasskey(
  config: PasskeyConfig,
  response: RegistrationResponseJSON,
  expectedChallenge: string,
): Promise<Pick<PasskeyRow, 'id' | 'public_key' | 'counter' | 'transports'>> {
  let result
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge,
      expectedOrigin: config.origins,
      expectedRPID: config.rpId,
      requireUserVerification: false,
      supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
    })
  } catch (err) {
    log('warn', 'passkey registration refused', { reason: reasonOf(err) })
    throw new AppError('invalid_request', 'passkey registration could not be verified')
  }
  if (!result.verified)
    throw new AppError('invalid_request', 'passkey registration could not be verified')
  const { credential } = result.registrationInfo
  return {
    id: credential.id,
    public_key: isoBase64URL.fromBuffer(credential.publicKey),
    counter: credential.counter,
    transports: JSON.stringify(credential.transports ?? []),
  }
}

/** The library's reason, cut short: it names the failed check and may quote the client's input, never ours. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message.slice(0, 200) : 'unknown'
}

/**
 * The challenge a response claims, read without trusting it yet (the
 * verification that follows checks it again); a response whose client data
 * is not JSON with a challenge is a 400.
 */
export function claimedChallenge(response: { response: { clientDataJSON: string } }): string {
  try {
    const { challenge } = decodeClientDataJSON(response.response.clientDataJSON)
    if (typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 128)
      return challenge
  } catch {
    // falls through to the 400
  }
  throw new AppError('invalid_request', 'clientDataJSON: no challenge')
}

/** `POST /auth/passkeys/register/options` (bearer access token). */
export async function registerOptions<E extends ClaimsEnv>(c: Context<E>) {
  const claims = c.get('claims')
  const now = Math.floor(c.get('now') / 1000)
  const existing = await listPasskeys(c.env.DB, claims.sub)
  const { challenge } = await issueChallenge(c.env.DB, 'register', { sub: claims.sub }, now)
  const options = await creationOptions(
    c.get('config').passkeys,
    { sub: claims.sub, username: claims.name },
    challenge,
    existing,
  )
  c.header('Cache-Control', 'no-store')
  return c.json(options)
}

/** `POST /auth/passkeys/register` (bearer access token): 201 with the new passkey. */
export async function register<E extends ClaimsEnv>(
  c: Context<E>,
  body: v.InferOutput<typeof RegisterBody>,
) {
  const claims = c.get('claims')
  const now = Math.floor(c.get('now') / 1000)
  const response = body.response as unknown as RegistrationResponseJSON
  const spent = await spendChallenge(
    c.env.DB,
    'register',
    { challenge: claimedChallenge(response) },
    now,
  )
  // A challenge issued to another user is not this user's, whoever holds it.
  if (spent.sub !== claims.sub)
    throw new AppError(
      'invalid_request',
      'challenge unknown, used, expired or for another ceremony',
    )
  const verified = await verifyNewPasskey(c.get('config').passkeys, response, spent.challenge)
  const count = await c.env.DB.prepare('SELECT COUNT(*) AS n FROM passkeys WHERE sub = ?')
    .bind(claims.sub)
    .first<{ n: number }>()
  if ((count?.n ?? 0) >= PASSKEYS_PER_USER_MAX)
    throw new AppError('conflict', `at most ${PASSKEYS_PER_USER_MAX} passkeys per user`)
  const row = { ...verified, sub: claims.sub, name: body.name ?? 'Passkey', created_at: now }
  const inserted = await insertPasskey(c.env.DB, row).run()
  if (inserted.meta.changes === 0) throw new AppError('conflict', 'passkey already registered')
  log('info', 'passkey registered', { sub: claims.sub })
  c.header('Cache-Control', 'no-store')
  return c.json({ id: row.id, name: row.name, createdAt: row.created_at }, 201)
}
