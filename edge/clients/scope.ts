import * as v from 'valibot'
import { ScopeSchema } from '../../shared/claims.ts'
import { SERVICE_SCOPES, type ServiceScope } from '../../shared/constants.ts'

/**
 * Parse a space-separated scope string into service scopes (docs/protocol.md
 * §8), in the canonical order of `SERVICE_SCOPES` and without repeats.
 *
 * @param scope - as sent; RFC 6749 §3.3 syntax
 * @returns the scopes, or undefined when the string is malformed or names a
 * scope that is not a service scope
 * @example
 * ```ts
 * parseServiceScope('grants publish') // ['publish', 'grants']
 * parseServiceScope('chat:read') // undefined
 * ```
 */
export function parseServiceScope(scope: string): ServiceScope[] | undefined {
  if (!v.is(ScopeSchema, scope)) return undefined
  const tokens = scope.split(' ').filter(Boolean)
  if (!tokens.every(isServiceScope)) return undefined
  return SERVICE_SCOPES.filter((s) => tokens.includes(s))
}

function isServiceScope(token: string): token is ServiceScope {
  return (SERVICE_SCOPES as readonly string[]).includes(token)
}

/**
 * A service client's scope on creation: one or more service scopes,
 * normalized to the canonical order.
 */
export const ClientScopeSchema = v.pipe(
  v.string(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const scopes = parseServiceScope(dataset.value)
    if (!scopes || scopes.length === 0) {
      addIssue({ message: `scope: one or more of ${SERVICE_SCOPES.join(' ')}` })
      return NEVER
    }
    return scopes.join(' ')
  }),
)
