import { AppError } from '../../shared/errors.ts'
import { PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS } from '../constants.ts'
import { normalizePassword, usernameKey } from '../auth/schemas.ts'
import commonPasswords from './common-passwords.json' with { type: 'json' }

/** A §13 password rule a new password can fail. */
export type PasswordRule = 'length' | 'not_username' | 'not_common'

let common: Set<string> | undefined

/**
 * The 10,000 most common passwords (edge/accounts/README.md says where the
 * list comes from), lower-cased, as a Set built once per isolate.
 */
function commonSet(): Set<string> {
  common ??= new Set(commonPasswords.map((p) => p.toLowerCase()))
  return common
}

/**
 * Which rule of docs/protocol.md §13 a new password fails, if any: 8–1024
 * characters (code points, after NFKC), not the username (compared as logins
 * compare usernames), not in the common list (compared case-insensitively, so
 * `Password1` counts as `password1`).
 *
 * @param password - the new password, as sent
 * @param username - the account's username
 */
export function failedPasswordRule(password: string, username: string): PasswordRule | undefined {
  const normalized = normalizePassword(password)
  const length = [...normalized].length
  if (length < PASSWORD_MIN_CHARS || length > PASSWORD_MAX_CHARS) return 'length'
  if (usernameKey(normalized) === usernameKey(username)) return 'not_username'
  if (commonSet().has(normalized.toLowerCase())) return 'not_common'
  return undefined
}

/**
 * Throw `weak_password` naming the failed rule (never the password).
 *
 * @throws AppError `weak_password`
 */
export function assertStrongPassword(password: string, username: string): void {
  const rule = failedPasswordRule(password, username)
  if (rule === undefined) return
  throw new AppError('weak_password', ruleText(rule))
}

/** The wire text of each rule; exhaustive, so a new rule without text fails the build. */
function ruleText(rule: PasswordRule): string {
  switch (rule) {
    case 'length':
      return `password: must be ${PASSWORD_MIN_CHARS}-${PASSWORD_MAX_CHARS} characters`
    case 'not_username':
      return 'password: must not be the username'
    case 'not_common':
      return 'password: is one of the 10,000 most common passwords'
    default: {
      const unhandled: never = rule
      return unhandled
    }
  }
}
