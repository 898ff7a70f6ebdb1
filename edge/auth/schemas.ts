import * as v from 'valibot'
import { RoomPatternSchema, ScopeSchema } from '../../shared/claims.ts'
import { PASSWORD_MAX_CHARS, ROOMS_MAX_ENTRIES, USERNAME_MAX_CHARS } from '../constants.ts'

/** Length in code points, so an emoji counts once (docs/protocol.md §3 counts characters). */
const codePoints = (s: string) => [...s].length

/** Well-formed UTF-16 (no lone surrogates), which D1 and the hash would silently rewrite. */
const wellFormed = v.check<string, 'not well-formed unicode'>(
  (s) => s.isWellFormed(),
  'not well-formed unicode',
)

/** Well-formed text of 1 to `max` characters, counted as code points (as the contract counts them). */
function text(max: number) {
  return v.pipe(
    v.string(),
    wellFormed,
    v.check((s) => codePoints(s) >= 1 && codePoints(s) <= max, `length 1-${max}`),
  )
}

/** A username as sent to `/auth/login`: 1–64 characters. */
export const UsernameSchema = text(USERNAME_MAX_CHARS)

/** A password: 1–1024 characters. */
export const PasswordSchema = text(PASSWORD_MAX_CHARS)

/** A username being created: also printable, no surrounding space, no control characters. */
export const NewUsernameSchema = v.pipe(
  UsernameSchema,
  v.regex(/^[^\p{C}\p{Z}](?:[^\p{C}]*[^\p{C}\p{Z}])?$/u, 'printable, no surrounding space'),
)

/** `POST /auth/login` */
export const LoginBody = v.strictObject({ username: UsernameSchema, password: PasswordSchema })

/** `POST /auth/refresh` (in cookie mode the body may be empty or omit the token). */
export const RefreshBody = v.strictObject({
  refresh_token: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(512))),
})

/** `POST /auth/logout` (the body is optional when a bearer access token is sent). */
export const LogoutBody = v.strictObject({
  refresh_token: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(512))),
})

/** `POST /admin/users` */
export const CreateUserBody = v.strictObject({
  username: NewUsernameSchema,
  password: PasswordSchema,
  scope: ScopeSchema,
  rooms: v.pipe(v.array(RoomPatternSchema), v.maxLength(ROOMS_MAX_ENTRIES)),
})

/** `POST /admin/keys/rotate` */
export const RotateBody = v.strictObject({ emergency: v.optional(v.boolean(), false) })

/**
 * The key logins match on: NFKC folds compatibility forms (full-width
 * letters, ligatures) and lower case folds case, so `Alice` and `ａｌｉｃｅ`
 * are one account and cannot be registered twice.
 */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase()
}

/** The key emails match on: NFKC and lower case (the local part is case-insensitive in practice). */
export function emailKey(email: string): string {
  return email.normalize('NFKC').toLowerCase()
}

/** Passwords are NFKC-normalized before hashing (NIST SP 800-63B §5.1.1.2). */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC')
}
