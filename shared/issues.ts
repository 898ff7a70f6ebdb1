import type * as v from 'valibot'

/**
 * Describe schema issues for a client: the path and the rule that failed,
 * never the received value (which may be a password or a token).
 *
 * @param issues - issues from `v.safeParse`
 * @example
 * ```ts
 * describeIssues(result.issues) // 'username: expected length <=64'
 * ```
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const first = issues[0]
  if (!first) return 'invalid'
  const path = first.path?.map((p) => String(p.key)).join('.') || 'body'
  switch (first.kind) {
    case 'schema':
      return first.type === 'strict_object' && first.expected === 'never'
        ? `${path}: unknown key`
        : `${path}: expected ${first.expected ?? first.type}`
    case 'validation':
      return `${path}: ${first.type.replaceAll('_', ' ')} check failed${first.requirement !== undefined && typeof first.requirement !== 'function' && !(first.requirement instanceof RegExp) ? ` (${String(first.requirement)})` : ''}`
    default:
      return `${path}: invalid`
  }
}
