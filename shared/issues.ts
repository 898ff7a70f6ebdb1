import type * as v from 'valibot'

/**
 * Describe schema issues for a client: the path and the rule that failed,
 * never the received value (which may be a password or a token). A pattern
 * is named by the schema's own message when it has one (`'id: 1-64 of
 * [A-Za-z0-9_-]'`), else by the pattern.
 *
 * @param issues - issues from `v.safeParse`
 * @param root - the name of the parsed value itself, prefixed to every path. @default 'body' (and no prefix)
 * @example
 * ```ts
 * describeIssues(result.issues) // 'username: expected length <=64'
 * describeIssues(result.issues, 'data') // 'data.room: 1-128 of [A-Za-z0-9:_.-]'
 * ```
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[], root?: string): string {
  const first = issues[0]
  if (!first) return 'invalid'
  const keys = first.path?.map((p) => String(p.key)) ?? []
  const path = (root === undefined ? keys : [root, ...keys]).join('.') || 'body'
  switch (first.kind) {
    case 'schema':
      return first.type === 'strict_object' && first.expected === 'never'
        ? `${path}: unknown key`
        : `${path}: expected ${first.expected ?? first.type}`
    case 'validation':
      if (first.requirement instanceof RegExp) return `${path}: ${patternRule(first)}`
      return `${path}: ${first.type.replaceAll('_', ' ')} check failed${first.requirement !== undefined && typeof first.requirement !== 'function' ? ` (${String(first.requirement)})` : ''}`
    default:
      return `${path}: invalid`
  }
}

/**
 * The rule of a failed pattern: the schema's message, which the schemas here
 * write as `'<field>: <rule>'` and never with the value, else the pattern
 * itself. valibot's default message quotes the received value, so it is
 * never used.
 */
function patternRule(issue: v.BaseIssue<unknown>): string {
  const custom = /^[^:\s]+: (.+)$/.exec(issue.message)
  return custom && !issue.message.includes(issue.received)
    ? custom[1]!
    : `expected ${issue.expected}`
}
