import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'

/** scrypt cost parameters; N = 2^ln. */
export interface ScryptParams {
  ln: number
  r: number
  p: number
}

/**
 * What new hashes use: OWASP's Password Storage Cheat Sheet row
 * N=2^14, r=8, p=5 (16 MiB, about 140 ms in workerd on a 2-core machine).
 * Raise these and stored hashes are upgraded on each user's next login.
 */
export const CURRENT_SCRYPT_PARAMS: ScryptParams = { ln: 14, r: 8, p: 5 }

/**
 * Production workerd refuses scrypt with N·r·p above 2^20; local workerd and
 * Miniflare do not, so this check is the only thing that catches it before
 * deploy. An isolate has 128 MB, so the 128·N·r bytes scrypt needs are capped
 * well below that too.
 */
export const SCRYPT_LIMITS = {
  maxNrp: 2 ** 20,
  maxMemoryBytes: 32 * 1024 * 1024,
  minLn: 10,
} as const

const SALT_BYTES = 16
const KEY_BYTES = 32
const PHC =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{22,}={0,2})\$([A-Za-z0-9+/]{43,}={0,2})$/

/** Whether `params` fit production workerd's and an isolate's limits. */
export function withinLimits({ ln, r, p }: ScryptParams): boolean {
  if (ln < SCRYPT_LIMITS.minLn || r < 1 || p < 1) return false
  const n = 2 ** ln
  return n * r * p <= SCRYPT_LIMITS.maxNrp && 128 * n * r <= SCRYPT_LIMITS.maxMemoryBytes
}

/**
 * Hash a password into a self-describing string `$scrypt$ln=…,r=…,p=…$salt$hash`.
 *
 * @param password - the password (normalized by the caller)
 * @param params - cost; defaults to {@link CURRENT_SCRYPT_PARAMS}
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = CURRENT_SCRYPT_PARAMS,
): Promise<string> {
  if (!withinLimits(params))
    throw new TypeError('hashPassword: scrypt parameters exceed production limits')
  const salt = randomBytes(SALT_BYTES)
  const key = await derive(password, salt, params, KEY_BYTES)
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`
}

/** Result of {@link verifyPassword}. */
export type PasswordCheck =
  { ok: true; needsRehash: boolean } | { ok: false; reason: 'mismatch' | 'unsupported_hash' }

/**
 * Check a password against a stored hash in constant time. A hash that does
 * not parse, or whose parameters are outside the limits, is a failure
 * (`unsupported_hash`), never an exception, so one bad row cannot 500 a login;
 * it still costs one full hash, so it answers no faster than a wrong password.
 *
 * @param password - the candidate
 * @param stored - the stored hash
 */
export async function verifyPassword(password: string, stored: string): Promise<PasswordCheck> {
  const parsed = parse(stored)
  if (!parsed) {
    // Spend a real hash's time anyway, so a corrupt row is not a faster answer.
    await burnPasswordCheck(password)
    return { ok: false, reason: 'unsupported_hash' }
  }
  const key = await derive(password, parsed.salt, parsed.params, parsed.key.length)
  if (key.length !== parsed.key.length || !timingSafeEqual(key, parsed.key))
    return { ok: false, reason: 'mismatch' }
  const c = CURRENT_SCRYPT_PARAMS
  const weaker = parsed.params.ln < c.ln || parsed.params.r < c.r || parsed.params.p < c.p
  return { ok: true, needsRehash: weaker || parsed.key.length !== KEY_BYTES }
}

let dummy: Promise<string> | undefined

/**
 * Spend the same time as a real verification, for logins of unknown users,
 * so response time does not reveal which usernames exist.
 */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hashPassword('edgegate-dummy-password')
  await verifyPassword(password, await dummy)
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const m = PHC.exec(stored)
  if (!m) return undefined
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) }
  if (!withinLimits(params)) return undefined
  const salt = Buffer.from(m[4]!, 'base64')
  const key = Buffer.from(m[5]!, 'base64')
  if (salt.length < SALT_BYTES || key.length < KEY_BYTES || key.length > 64) return undefined
  return { params, salt, key }
}

function derive(
  password: string,
  salt: Buffer,
  { ln, r, p }: ScryptParams,
  length: number,
): Promise<Buffer> {
  const n = 2 ** ln
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N: n, r, p, maxmem: 128 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}
