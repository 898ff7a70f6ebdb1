import * as v from 'valibot'
import { RoomPatternSchema, ScopeSchema } from '../../shared/claims.ts'
import { NewUsernameSchema, PasswordSchema, UsernameSchema } from '../auth/schemas.ts'
import {
  EMAIL_MAX_CHARS,
  INVITE_MAX_TTL_SECONDS,
  INVITE_MIN_TTL_SECONDS,
  ROOMS_MAX_ENTRIES,
} from '../constants.ts'

/** An email address: at most 254 characters, one `@`, no spaces or controls. */
export const EmailSchema = v.pipe(
  v.string(),
  v.maxLength(EMAIL_MAX_CHARS, `length 1-${EMAIL_MAX_CHARS}`),
  v.email('an email address'),
)

/** A mail token or invite as sent back: base64url, bounded. */
export const OpaqueToken = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{16,128}$/, 'an opaque token'))

const Rooms = v.pipe(v.array(RoomPatternSchema), v.maxLength(ROOMS_MAX_ENTRIES))

/** `POST /auth/signup` */
export const SignupBody = v.strictObject({
  username: NewUsernameSchema,
  password: PasswordSchema,
  email: v.optional(EmailSchema),
  invite: v.optional(OpaqueToken),
})

/** `POST /auth/email/verify` and the token half of a reset. */
export const TokenBody = v.strictObject({ token: OpaqueToken })

/** `POST /auth/password/forgot`: a username or an email, not both. */
export const ForgotBody = v.union([
  v.strictObject({ username: UsernameSchema }),
  v.strictObject({ email: EmailSchema }),
])

/** `POST /auth/password/reset` */
export const ResetBody = v.strictObject({ token: OpaqueToken, password: PasswordSchema })

/** `POST /auth/password` */
export const ChangePasswordBody = v.strictObject({
  current_password: PasswordSchema,
  new_password: PasswordSchema,
})

/** `POST /admin/invites` */
export const InviteBody = v.strictObject({
  scope: v.optional(ScopeSchema),
  rooms: v.optional(Rooms),
  ttl: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(INVITE_MIN_TTL_SECONDS),
      v.maxValue(INVITE_MAX_TTL_SECONDS),
    ),
  ),
})

/** `PATCH /admin/users/:username`: at least one field. */
export const PatchUserBody = v.pipe(
  v.strictObject({
    scope: v.optional(ScopeSchema),
    rooms: v.optional(Rooms),
    email: v.optional(v.nullable(EmailSchema)),
  }),
  v.check((b) => Object.keys(b).length > 0, 'one of scope, rooms, email'),
)
