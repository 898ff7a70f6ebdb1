import { ScopeSchema, RoomPatternSchema } from '../../shared/claims.ts'
import { parseHttpUrl } from '../../shared/url.ts'
import * as v from 'valibot'
import { ConfigError } from '../config-error.ts'
import { ROOMS_MAX_ENTRIES } from '../constants.ts'

/** Who may create an account (`SIGNUP`, docs/protocol.md §13). */
export type SignupMode = 'off' | 'open' | 'invite'

/** Where mail goes (`MAILER`). */
export type MailerKind = 'outbox' | 'webhook' | 'send_email'

/** The accounts part of the edge's configuration. */
export interface AccountsConfig {
  /** `SIGNUP`: off (default), open or invite. */
  signup: SignupMode
  /** `SIGNUP_SCOPE`: the scope new users get. @default 'chat:read chat:write' */
  signupScope: string
  /** `SIGNUP_ROOMS`: JSON array of room patterns new users get. @default ["lobby"] */
  signupRooms: string[]
  /** `EMAIL_VERIFICATION=required`: an account with an unverified email cannot log in. */
  emailVerificationRequired: boolean
  /** `MAILER`: outbox (local only), webhook, or send_email (the `SEND_EMAIL` binding); unset sends nothing. */
  mailer: MailerKind | undefined
  /** `MAILER_WEBHOOK_URL`, required with `MAILER=webhook`. */
  mailerWebhookUrl: string | undefined
  /** `MAIL_FROM`, the sender of the `send_email` transport. */
  mailFrom: string | undefined
  /** `ACCOUNT_LINK_BASE`: the page mail links open (`#verify=…`, `#reset=…`). @default ISSUER + '/' */
  linkBase: string | undefined
  /**
   * `OUTBOX_VIEW=open`: serve the outbox as a page at `/dev/outbox/view` without
   * the admin token (the local demo links to it). Accepted only with `MAILER=outbox`
   * and a loopback `ISSUER`, since anyone who reads it can reset any account.
   */
  outboxView: boolean
}

const DEFAULT_SIGNUP_SCOPE = 'chat:read chat:write'
const DEFAULT_SIGNUP_ROOMS = ['lobby']
const RoomsSchema = v.pipe(v.array(RoomPatternSchema), v.maxLength(ROOMS_MAX_ENTRIES))

/**
 * Parse the §13 variables.
 *
 * @param vars - the worker's variables
 * @throws ConfigError naming the first bad variable
 */
export function readAccountsConfig(vars: Record<string, string | undefined>): AccountsConfig {
  const signup = oneOf(vars, 'SIGNUP', ['off', 'open', 'invite'] as const) ?? 'off'
  const verification = oneOf(vars, 'EMAIL_VERIFICATION', ['off', 'required'] as const) ?? 'off'
  const mailer = oneOf(vars, 'MAILER', ['outbox', 'webhook', 'send_email'] as const)
  const scope = vars.SIGNUP_SCOPE || DEFAULT_SIGNUP_SCOPE
  if (!v.is(ScopeSchema, scope)) throw new ConfigError('SIGNUP_SCOPE must be a valid scope')
  let rooms: unknown = DEFAULT_SIGNUP_ROOMS
  if (vars.SIGNUP_ROOMS) {
    try {
      rooms = JSON.parse(vars.SIGNUP_ROOMS)
    } catch {
      throw new ConfigError('SIGNUP_ROOMS must be a JSON array of room patterns')
    }
  }
  if (!v.is(RoomsSchema, rooms))
    throw new ConfigError('SIGNUP_ROOMS must be a JSON array of room patterns')
  const webhookUrl = vars.MAILER_WEBHOOK_URL || undefined
  if (webhookUrl !== undefined && !parseHttpUrl(webhookUrl))
    throw new ConfigError('MAILER_WEBHOOK_URL must be an http(s) URL')
  if (mailer === 'webhook' && webhookUrl === undefined)
    throw new ConfigError('MAILER=webhook needs MAILER_WEBHOOK_URL')
  if (mailer === 'send_email' && !vars.MAIL_FROM)
    throw new ConfigError('MAILER=send_email needs MAIL_FROM')
  const linkBase = vars.ACCOUNT_LINK_BASE || undefined
  if (linkBase !== undefined && !parseHttpUrl(linkBase))
    throw new ConfigError('ACCOUNT_LINK_BASE must be an http(s) URL')
  const outboxView = oneOf(vars, 'OUTBOX_VIEW', ['off', 'open'] as const) === 'open'
  if (outboxView && (mailer !== 'outbox' || !isLoopback(vars.ISSUER)))
    throw new ConfigError('OUTBOX_VIEW=open needs MAILER=outbox and a loopback ISSUER')
  return {
    signup,
    signupScope: scope,
    signupRooms: rooms,
    emailVerificationRequired: verification === 'required',
    mailer,
    mailerWebhookUrl: webhookUrl,
    mailFrom: vars.MAIL_FROM || undefined,
    linkBase,
    outboxView,
  }
}

function isLoopback(issuer: string | undefined): boolean {
  const host = issuer ? parseHttpUrl(issuer)?.hostname : undefined
  return host === '127.0.0.1' || host === 'localhost' || host === '[::1]'
}

function oneOf<T extends string>(
  vars: Record<string, string | undefined>,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const raw = vars[name]
  if (raw === undefined || raw === '') return undefined
  if (!(allowed as readonly string[]).includes(raw))
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}`)
  return raw as T
}
