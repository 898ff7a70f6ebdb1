import * as v from 'valibot'
import { KEY_SET_ALGORITHMS } from '../../../shared/jwks/algorithms.ts'
import { MAX_TRUSTED_ISSUERS_COUNT } from '../../constants.ts'

/** An absolute http(s) URL. */
const HttpUrlSchema = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.check((raw) => {
    try {
      const { protocol } = new URL(raw)
      return protocol === 'https:' || protocol === 'http:'
    } catch {
      return false
    }
  }, 'expected an absolute http(s) URL'),
)

/** An audience value: printable, no spaces. */
const AudienceSchema = v.pipe(
  v.string(),
  v.regex(/^[\x21-\x7E]{1,256}$/, 'expected printable characters, no spaces'),
)

/** Where an issuer keeps scopes: `scope` (space-separated), `scp` or `permissions` (space-separated or a list). */
export const SCOPE_CLAIMS = ['scope', 'scp', 'permissions'] as const

/**
 * One trusted issuer besides the edge (docs/protocol.md §12). Unknown keys
 * are refused, so a misspelt `jwks_uri` is a startup error, not a silently
 * ignored setting.
 */
export const TrustedIssuerSchema = v.pipe(
  v.strictObject({
    /** The `iss` its tokens carry, exactly. */
    issuer: HttpUrlSchema,
    /** Its OpenID discovery document (`…/.well-known/openid-configuration`), fetched at start. */
    discovery: v.optional(HttpUrlSchema),
    /** Its JWKS, when there is no discovery. */
    jwksUri: v.optional(HttpUrlSchema),
    /** The `aud` (one of) its tokens for realtime carry. */
    audience: v.union([
      AudienceSchema,
      v.pipe(v.array(AudienceSchema), v.minLength(1), v.maxLength(16)),
    ]),
    /** The `alg`s it signs with; no other is accepted from it. */
    algorithms: v.pipe(
      v.array(v.picklist(KEY_SET_ALGORITHMS)),
      v.minLength(1),
      v.check((list) => new Set(list).size === list.length, 'expected no repeated algorithm'),
    ),
    /** Whether `typ` must be `at+jwt` (RFC 9068); otherwise a missing `typ` or `JWT` is accepted too. @default true */
    requireTyp: v.optional(v.boolean(), true),
    /** Where its scopes are. @default 'scope' */
    scopeClaim: v.optional(v.picklist(SCOPE_CLAIMS), 'scope'),
    /** The claim holding the room patterns its users may join; absent: none (grants only). */
    roomsClaim: v.optional(
      v.pipe(v.string(), v.regex(/^[\x21-\x7E]{1,256}$/, 'expected a claim name')),
    ),
  }),
  v.check(
    (entry) => (entry.discovery === undefined) !== (entry.jwksUri === undefined),
    'expected exactly one of discovery and jwksUri',
  ),
)

/** A trusted issuer, as configured (defaults applied). */
export type TrustedIssuer = v.InferOutput<typeof TrustedIssuerSchema>

/** The list of trusted issuers: at most {@link MAX_TRUSTED_ISSUERS_COUNT}, each `issuer` once. */
export const TrustedIssuersSchema = v.pipe(
  v.array(TrustedIssuerSchema),
  v.maxLength(MAX_TRUSTED_ISSUERS_COUNT),
  v.check(
    (list) => new Set(list.map((i) => i.issuer)).size === list.length,
    'expected each issuer listed once',
  ),
)

/**
 * Parse trusted issuers from JSON text: one problem line per error, naming
 * the entry and the field, never a value.
 *
 * @param text - JSON: an array of issuer entries
 * @param source - what to call the input in problems (`TRUSTED_ISSUERS`, a file path)
 * @param edgeIssuer - the edge's issuer, which is always trusted and must not be listed again
 * @returns the issuers, or the problems
 * @example
 * ```ts
 * const { issuers, problems } = parseTrustedIssuers(env.TRUSTED_ISSUERS, 'TRUSTED_ISSUERS', issuer)
 * ```
 */
export function parseTrustedIssuers(
  text: string,
  source: string,
  edgeIssuer: string,
): { issuers: TrustedIssuer[]; problems: string[] } {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { issuers: [], problems: [`${source}: not valid JSON`] }
  }
  const parsed = v.safeParse(TrustedIssuersSchema, json)
  if (!parsed.success) {
    return {
      issuers: [],
      problems: [...new Set(parsed.issues.map((i) => `${source}: ${describe(i)}`))],
    }
  }
  const problems = parsed.output
    .map((entry, i) =>
      entry.issuer === edgeIssuer
        ? `${source}: ${i}.issuer: the edge (ISSUER) is always trusted; do not list it`
        : '',
    )
    .filter(Boolean)
  return { issuers: problems.length ? [] : parsed.output, problems }
}

/** One issue as a line: where, and what was expected; never the value found. */
function describe(issue: v.BaseIssue<unknown>): string {
  const path = issue.path?.map((p) => String(p.key)).join('.') || 'the list'
  if (issue.kind !== 'schema') return `${path}: ${issue.message.split(' but received')[0]}`
  if (issue.type === 'strict_object' && issue.expected === 'never') return `${path}: unknown key`
  if (issue.received === 'undefined') return `${path}: missing`
  return `${path}: expected ${issue.expected ?? issue.type}`
}
