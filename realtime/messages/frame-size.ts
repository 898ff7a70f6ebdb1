import { createRequire } from 'node:module'
import type * as SocketIoParser from 'socket.io-parser'
import { MAX_ENVELOPE_BYTES } from '../../shared/constants.ts'

// The CommonJS build, the one Socket.IO itself loads: one copy of the parser
// (an ESM import on Node resolves to a second copy, its debug build).
const { Decoder, Encoder, PacketType } = createRequire(import.meta.url)(
  'socket.io-parser',
) as typeof SocketIoParser

/**
 * A text frame of at most this many UTF-16 code units holds an envelope whose
 * serialized form is within the limit: re-serializing grows a JSON text at
 * most 5.25× (`1e20` becomes 21 digits; every other token keeps or loses
 * length) and no character takes more than 3 UTF-8 bytes, so `6 × length`
 * bounds the envelope's bytes.
 */
export const SMALL_FRAME_CHARS = Math.floor(MAX_ENVELOPE_BYTES / 6)

/**
 * Most characters an escaping JSON encoder can turn one UTF-8 byte of an
 * envelope into: an ASCII character inside a string becomes a 6-character
 * `\u0041`. Every other case grows less per byte: 2- and 3-byte characters
 * become one `\uXXXX` (3 or 2 per byte), 4-byte ones a surrogate pair of
 * two (12 chars, 3 per byte), structural characters cannot be escaped, and
 * whitespace an encoder adds (`", "`, `": "`) is 2 per byte.
 */
export const MAX_ESCAPE_CHARS_PER_BYTE = 6

/**
 * Room for what frames an envelope: the Engine.IO and Socket.IO packet types,
 * a namespace, an ack id, the event name (itself escapable) and the array
 * around them, in bytes.
 */
export const FRAME_OVERHEAD_BYTES = 1024

/**
 * The largest frame the transport accepts (Socket.IO's `maxHttpBufferSize`),
 * in bytes: the worst-case escaping of an envelope of
 * {@link MAX_ENVELOPE_BYTES} (16 KiB × 6 = 96 KiB) plus framing, so a valid
 * envelope is never dropped however its client chose to escape it
 * (docs/protocol.md §5; issue 14 item 4: Python's encoder escapes every
 * non-ASCII character). Escaped frames are ASCII, so characters are bytes.
 * Anything larger cannot hold a valid envelope and is dropped before it is
 * parsed; what fits is measured exactly and refused with `payload_too_large`
 * when its envelope is over the limit (see {@link needsExactSize}).
 */
export const MAX_FRAME_BYTES = MAX_ENVELOPE_BYTES * MAX_ESCAPE_CHARS_PER_BYTE + FRAME_OVERHEAD_BYTES

/** Argument arrays of event packets whose envelope size must be counted exactly. */
const unmeasured = new WeakSet<object>()

/**
 * Socket.IO's own decoder, marking the event packets that may be over the
 * envelope limit: those from a text frame over {@link SMALL_FRAME_CHARS},
 * and those with binary attachments. Socket.IO hands a packet's argument
 * array, unchanged, to `socket.use` a tick later (after the rest of the chunk
 * has been decoded), so the array is the key that still names its frame
 * there. The common small packet is not touched.
 */
class FrameSizeDecoder extends Decoder {
  /** Length of the frame being decoded; -1 for a binary one. */
  private frame = -1

  constructor(...args: ConstructorParameters<typeof Decoder>) {
    super(...args)
    // `decoded` is emitted inside add(), after the frame's length was noted.
    // One listener shared by every decoder (the emitter calls it with the
    // decoder as `this`), not a closure per connection.
    this.on('decoded', markUnmeasured)
  }

  override add(obj: unknown): void {
    this.frame = typeof obj === 'string' ? obj.length : -1
    super.add(obj)
  }

  /** Whether the frame being decoded may hold an envelope over the limit. */
  largeFrame(): boolean {
    return this.frame < 0 || this.frame > SMALL_FRAME_CHARS
  }
}

function markUnmeasured(
  this: FrameSizeDecoder,
  packet: { type: SocketIoParser.PacketType; data?: unknown },
): void {
  if (this.largeFrame() && packet.type === PacketType.EVENT && Array.isArray(packet.data)) {
    unmeasured.add(packet.data)
  }
}

/**
 * The `parser` option of the realtime server's Socket.IO: the default wire
 * format (stock clients need no change), plus the marks read by
 * {@link needsExactSize}. Every packet reaching `socket.use` came through it.
 */
export const frameSizeParser = { Encoder, Decoder: FrameSizeDecoder }

/**
 * Whether a packet given to `socket.use` may hold an envelope over the limit,
 * so that its size has to be counted: its frame was large, or it carried
 * binary attachments.
 */
export function needsExactSize(packet: object): boolean {
  return unmeasured.has(packet)
}
