/**
 * Ids for one client's envelopes (docs/protocol.md §5): a random prefix and
 * a counter. The counter keeps them unique across the client's reconnects;
 * the prefix keeps two tabs of one user apart in the server's logs.
 *
 * @returns a function that gives the next id, e.g. `k3x9a0b1-7`
 */
export function envelopeIds(): () => string {
  const bytes = crypto.getRandomValues(new Uint8Array(6))
  const prefix = Array.from(bytes, (b) => b.toString(36).padStart(2, '0'))
    .join('')
    .slice(0, 8)
  let seq = 0
  return () => `${prefix}-${++seq}`
}
