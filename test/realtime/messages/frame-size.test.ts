import { Encoder, PacketType, type Packet } from 'socket.io-parser'
import { describe, expect, it } from 'vitest'
import {
  frameSizeParser,
  needsExactSize,
  SMALL_FRAME_CHARS,
} from '../../../realtime/messages/frame-size.ts'
import { MAX_ENVELOPE_BYTES } from '../../../shared/constants.ts'

/** Encode a packet as a client would, and decode it with the server's decoder. */
function roundTrip(packet: Packet): { frames: (string | Buffer)[]; decoded: Packet[] } {
  const decoder = new frameSizeParser.Decoder()
  const decoded: Packet[] = []
  decoder.on('decoded', (p: Packet) => decoded.push(p))
  const frames = new Encoder().encode(packet)
  for (const frame of frames) decoder.add(frame)
  return { frames, decoded }
}

const event = (data: unknown[]): Packet => ({ type: PacketType.EVENT, nsp: '/', id: 7, data })

describe('frameSizeParser', () => {
  it('leaves an event from a small text frame unmarked, and marks one from a frame over the bound', () => {
    const small = roundTrip(
      event(['chat:send', { v: 1, data: 'x'.repeat(SMALL_FRAME_CHARS - 40) }]),
    )
    expect((small.frames[0] as string).length).toBeLessThanOrEqual(SMALL_FRAME_CHARS)
    expect(needsExactSize(small.decoded[0]!.data)).toBe(false)
    const large = roundTrip(event(['chat:send', { v: 1, data: 'x'.repeat(SMALL_FRAME_CHARS) }]))
    expect((large.frames[0] as string).length).toBeGreaterThan(SMALL_FRAME_CHARS)
    expect(needsExactSize(large.decoded[0]!.data)).toBe(true)
  })

  it('marks an event with binary attachments, whatever its text frame', () => {
    const { decoded } = roundTrip(event(['up', { blob: Buffer.alloc(64) }]))
    expect(Buffer.isBuffer(decoded[0]!.data[1].blob)).toBe(true)
    expect(needsExactSize(decoded[0]!.data)).toBe(true)
  })

  it('bounds the serialized size of whatever a small frame can hold within the limit', () => {
    // The largest growth re-serializing can cause: exponent numbers written out in full.
    const json = `[${Array(Math.floor((SMALL_FRAME_CHARS - 2) / 5))
      .fill('1e20')
      .join(',')}]`
    expect(json.length).toBeLessThanOrEqual(SMALL_FRAME_CHARS)
    const reserialized = JSON.stringify(JSON.parse(json))
    expect(reserialized.length).toBeGreaterThan(json.length * 4)
    expect(Buffer.byteLength(reserialized)).toBeLessThanOrEqual(MAX_ENVELOPE_BYTES)
  })

  it('decodes the default wire format, so stock clients need no change', () => {
    const sent: Packet = { type: PacketType.CONNECT, nsp: '/admin', data: { token: 't' } }
    expect(roundTrip(sent).decoded).toEqual([sent])
  })
})
