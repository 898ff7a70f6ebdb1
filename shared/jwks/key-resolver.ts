import type { JWTVerifyGetKey } from 'jose'
import { AppError } from '../errors.ts'
import type { HeldKey } from './parse-jwks.ts'

/**
 * jose's `getKey` over a kid lookup: the token header's `kid` selects the
 * key and its `alg` must be the key's own. Nothing else in the header is
 * read (no `jku`, `x5u`, `jwk`, `x5c`). Internal to shared/jwks.
 *
 * @param lookup - the key of a kid, or a throw with the contract's code
 */
export function keyResolver(lookup: (kid: string) => Promise<HeldKey>): JWTVerifyGetKey {
  return async (header) => {
    const { kid, alg } = header as { kid?: unknown; alg?: unknown }
    if (typeof kid !== 'string' || kid.length === 0) {
      throw new AppError('token_malformed', 'header kid missing or not a string')
    }
    if (typeof alg !== 'string') throw new AppError('token_malformed', 'header alg missing')
    const entry = await lookup(kid)
    if (entry.alg !== alg) throw new AppError('token_invalid', 'header alg does not match the key')
    return entry.key
  }
}
