import * as v from 'valibot'
import { describeIssues } from './issues.ts'
import { MAX_DPOP_PROOF_BYTES, MAX_ENVELOPE_BYTES } from './constants.ts'

/** An envelope id, and a publish id (docs/protocol.md §5, §8): 1–64 characters of `[A-Za-z0-9_-]`. */
export const ENVELOPE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** An envelope id (docs/protocol.md §5). */
export const EnvelopeIdSchema = v.pipe(
  v.string(),
  v.regex(ENVELOPE_ID_PATTERN, 'id: 1-64 of [A-Za-z0-9_-]'),
)

/**
 * The envelope every client-to-server event carries as its one argument
 * (docs/protocol.md §5). Strict: unknown top-level keys are refused. `data` is
 * checked again by the event's own schema.
 */
export const EnvelopeSchema = v.strictObject({
  v: v.literal(1),
  id: EnvelopeIdSchema,
  ts: v.pipe(v.number(), v.safeInteger()),
  data: v.unknown(),
  token: v.optional(v.string()),
  /** (v1.2) A DPoP proof for `token` (docs/protocol.md §15). */
  dpop: v.optional(v.pipe(v.string(), v.maxLength(MAX_DPOP_PROOF_BYTES))),
})

/** An envelope whose `data` is `D`. */
export type Envelope<D = unknown> = Omit<v.InferOutput<typeof EnvelopeSchema>, 'data'> & { data: D }

/**
 * An envelope stamped with the current time (docs/protocol.md §5): the one
 * place a client builds them.
 *
 * @param id - unique among the connection's envelopes (see {@link ENVELOPE_ID_PATTERN})
 * @param data - the event's payload (`null` when it has none)
 * @param token - a fresh access token: `rt:auth`'s, or every envelope's where the server requires it
 * @param dpop - (v1.2) a DPoP proof for a bound `token` (`htm` POST, the realtime URL; docs/protocol.md §15)
 * @example
 * ```ts
 * socket.emit('chat:send', createEnvelope('c1', { room: 'lobby', text: 'hi' }), onAck)
 * ```
 */
export function createEnvelope<D>(id: string, data: D, token?: string, dpop?: string): Envelope<D> {
  const envelope: Envelope<D> = { v: 1, id, ts: Date.now(), data }
  if (token !== undefined) envelope.token = token
  if (dpop !== undefined) envelope.dpop = dpop
  return envelope
}

/** The reply to an acknowledged envelope (docs/protocol.md §5). */
export type Ack<D = unknown> =
  { ok: true; data?: D } | { ok: false; error: { code: string; message: string } }

/**
 * Parse an envelope. The `data` key must be present (`null` is a value).
 *
 * @param input - the event's one argument, as received
 * @returns the envelope, or undefined when it does not match
 */
export function parseEnvelope(input: unknown): Envelope | undefined {
  if (typeof input !== 'object' || input === null || !('data' in input)) return undefined
  const result = v.safeParse(EnvelopeSchema, input)
  return result.success ? (result.output as Envelope) : undefined
}

/**
 * Why `input` is not an envelope: the field and the rule that failed, never
 * the value (docs/protocol.md §5, v1.2). Call it after {@link parseEnvelope}
 * refused `input`.
 *
 * @param input - the refused argument
 * @example
 * ```ts
 * envelopeProblem({ v: 1, id: 'a:b', ts: 1, data: null }) // 'id: 1-64 of [A-Za-z0-9_-]'
 * ```
 */
export function envelopeProblem(input: unknown): string {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return 'envelope: expected an object'
  if (!('data' in input)) return 'data: required'
  const result = v.safeParse(EnvelopeSchema, input)
  return result.success ? 'envelope: invalid' : describeIssues(result.issues)
}

/**
 * Serialized size of an envelope in UTF-8 bytes, or `Infinity` when it
 * cannot be serialized. Cheap for the small envelopes that are the norm.
 */
export function envelopeBytes(input: unknown): number {
  try {
    const json = JSON.stringify(input)
    if (json === undefined) return Infinity
    // A UTF-16 length under a third of the limit cannot exceed it in UTF-8.
    if (json.length * 3 <= MAX_ENVELOPE_BYTES) return json.length
    return new TextEncoder().encode(json).byteLength
  } catch {
    return Infinity
  }
}
