import { readFileSync, statSync } from 'node:fs'
import { TRUSTED_ISSUERS_FILE_MAX_BYTES } from '../../constants.ts'
import { parseTrustedIssuers, type TrustedIssuer } from './schema.ts'

/**
 * The issuers trusted besides the edge (docs/protocol.md §12), from
 * `TRUSTED_ISSUERS` (JSON) or `TRUSTED_ISSUERS_FILE` (a path to a JSON file),
 * never both. Each problem is pushed to `problems` as one line.
 *
 * @param env - the environment
 * @param edgeIssuer - the edge's `ISSUER`, always trusted, never listed
 * @param problems - where problem lines go
 * @returns the issuers; [] when unset or invalid
 * @example
 * ```ts
 * const trustedIssuers = readTrustedIssuers(process.env, issuer, problems)
 * ```
 */
export function readTrustedIssuers(
  env: Record<string, string | undefined>,
  edgeIssuer: string,
  problems: string[],
): TrustedIssuer[] {
  const inline = env.TRUSTED_ISSUERS || undefined
  const file = env.TRUSTED_ISSUERS_FILE || undefined
  if (inline !== undefined && file !== undefined) {
    problems.push('TRUSTED_ISSUERS and TRUSTED_ISSUERS_FILE: set one, not both')
    return []
  }
  let text = inline
  let source = 'TRUSTED_ISSUERS'
  if (file !== undefined) {
    source = `TRUSTED_ISSUERS_FILE (${file})`
    try {
      if (statSync(file).size > TRUSTED_ISSUERS_FILE_MAX_BYTES) {
        problems.push(`${source}: larger than ${TRUSTED_ISSUERS_FILE_MAX_BYTES} bytes`)
        return []
      }
      text = readFileSync(file, 'utf8')
    } catch (err) {
      problems.push(`${source}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
      return []
    }
  }
  if (text === undefined) return []
  const parsed = parseTrustedIssuers(text, source, edgeIssuer)
  problems.push(...parsed.problems)
  return parsed.issuers
}
