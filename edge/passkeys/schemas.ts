import * as v from 'valibot'
import { OpaqueToken } from '../accounts/schemas.ts'
import { NewUsernameSchema, UsernameSchema } from '../auth/schemas.ts'
import {
  PASSKEY_CREDENTIAL_ID_MAX_CHARS,
  PASSKEY_NAME_MAX_CHARS,
  PASSKEY_RESPONSE_FIELD_MAX_CHARS,
} from '../constants.ts'

const b64url = (max: number) =>
  v.pipe(v.string(), v.maxLength(max), v.regex(/^[A-Za-z0-9_-]*={0,2}$/, 'base64url'))

const CredentialId = v.pipe(b64url(PASSKEY_CREDENTIAL_ID_MAX_CHARS), v.minLength(1))
const Field = b64url(PASSKEY_RESPONSE_FIELD_MAX_CHARS)
const Transports = v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(32))), v.maxLength(8)))
const Extensions = v.looseObject({})

/** A passkey's name: 1–64 printable characters. */
export const PasskeyNameSchema = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1),
  v.maxLength(PASSKEY_NAME_MAX_CHARS),
  v.regex(/^[^\p{C}]*$/u, 'printable'),
)

/** `RegistrationResponseJSON` as `@simplewebauthn/browser` sends it, with every field bounded. */
export const RegistrationResponseSchema = v.looseObject({
  id: CredentialId,
  rawId: CredentialId,
  type: v.literal('public-key'),
  response: v.looseObject({
    clientDataJSON: Field,
    attestationObject: Field,
    transports: Transports,
  }),
  clientExtensionResults: Extensions,
  authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
})

/** `AuthenticationResponseJSON`, bounded likewise. */
export const AuthenticationResponseSchema = v.looseObject({
  id: CredentialId,
  rawId: CredentialId,
  type: v.literal('public-key'),
  response: v.looseObject({
    clientDataJSON: Field,
    authenticatorData: Field,
    signature: Field,
    userHandle: v.optional(Field),
  }),
  clientExtensionResults: Extensions,
  authenticatorAttachment: v.optional(v.picklist(['platform', 'cross-platform'])),
})

const ChallengeId = v.pipe(v.string(), v.uuid())

/** `POST /auth/passkeys/register` */
export const RegisterBody = v.strictObject({
  response: RegistrationResponseSchema,
  name: v.optional(PasskeyNameSchema),
})

/** `POST /auth/passkeys/login/options` */
export const LoginOptionsBody = v.strictObject({ username: v.optional(UsernameSchema) })

/** `POST /auth/passkeys/login` */
export const PasskeyLoginBody = v.strictObject({
  challengeId: ChallengeId,
  response: AuthenticationResponseSchema,
})

/** `POST /auth/passkeys/signup/options` */
export const SignupOptionsBody = v.strictObject({ username: NewUsernameSchema })

/** `POST /auth/passkeys/signup` */
export const PasskeySignupBody = v.strictObject({
  username: NewUsernameSchema,
  challengeId: ChallengeId,
  response: RegistrationResponseSchema,
  invite: v.optional(OpaqueToken),
  name: v.optional(PasskeyNameSchema),
})

/** `PATCH /auth/passkeys/:id` */
export const RenameBody = v.strictObject({ name: PasskeyNameSchema })
