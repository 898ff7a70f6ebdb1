/**
 * The `default` of every switch on a revocation kind: a kind added to the
 * contract and not handled there fails the build at that switch.
 *
 * @param kind - typed `never` once every kind has a case
 * @throws TypeError at run time (a kind the types did not know)
 * @example
 * ```ts
 * default: return unhandledKind(kind)
 * ```
 */
export function unhandledKind(kind: never): never {
  throw new TypeError(`unhandled revocation kind ${String(kind)}`)
}
