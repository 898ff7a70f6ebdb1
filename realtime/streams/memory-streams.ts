import { randomBytes } from 'node:crypto'
import {
  DEFAULT_MAX_MEMORY_STREAMS,
  DEFAULT_USER_STREAM_MAX,
  DEFAULT_USER_STREAM_TTL_SECONDS,
  MAX_MEMORY_STREAM_BYTES,
} from '../constants.ts'
import { SYNC_FROM_START } from '../../shared/constants.ts'
import type { Publication, StreamEntry, SyncResult } from './types.ts'

/** Options of {@link MemoryUserStreams}. */
export interface MemoryUserStreamsOptions {
  /** Newest entries kept per user. @default 100 */
  maxEntries?: number
  /** Age limit of an entry, seconds. @default 86400 */
  ttlSeconds?: number
  /** Users' streams held at most; the least recently appended go first. @default 10000 */
  maxStreams?: number
  /** Serialized bytes of `data` held across all streams at most; the oldest streams go first. @default 64 MiB */
  maxBytes?: number
  /** ms clock. @default Date.now */
  now?: () => number
}

interface Stored extends StreamEntry {
  seq: number
  bytes: number
}

/** One user's stream: entries by increasing `seq`, and the newest `seq` retention dropped. */
interface Stream {
  /** Names this stream: an offset of an evicted or earlier stream never matches. */
  tag: string
  seq: number
  dropped: number
  entries: Stored[]
}

/**
 * Per-user streams in bounded memory, for a single node (docs/protocol.md
 * §9): per user the newest `maxEntries` entries no older than `ttlSeconds`,
 * and across users at most `maxStreams` streams and `maxBytes` of data.
 * Offsets are `<tag>-<seq>`: a stream evicted and started again gets a new
 * tag, so an offset from before reports a gap instead of skipping entries.
 */
export class MemoryUserStreams {
  private readonly streams = new Map<string, Stream>()
  private readonly o: Required<MemoryUserStreamsOptions>
  private held = 0
  private bytes = 0

  constructor(options: MemoryUserStreamsOptions = {}) {
    this.o = {
      maxEntries: DEFAULT_USER_STREAM_MAX,
      ttlSeconds: DEFAULT_USER_STREAM_TTL_SECONDS,
      maxStreams: DEFAULT_MAX_MEMORY_STREAMS,
      maxBytes: MAX_MEMORY_STREAM_BYTES,
      now: Date.now,
      ...options,
    }
    if (!(this.o.maxEntries >= 1) || !(this.o.maxStreams >= 1) || !(this.o.ttlSeconds > 0)) {
      throw new TypeError(
        'MemoryUserStreams: maxEntries, maxStreams >= 1 and ttlSeconds > 0 required',
      )
    }
  }

  /**
   * Append a publication to `sub`'s stream.
   *
   * @param bytes - the serialized size of its `data`, counted against `maxBytes`
   * @returns the entry's offset
   */
  append(sub: string, publication: Publication, bytes: number): string {
    let stream = this.streams.get(sub)
    if (stream) this.streams.delete(sub)
    else stream = { tag: randomBytes(6).toString('base64url'), seq: 0, dropped: 0, entries: [] }
    // Re-inserted: the map's order is least recently appended first.
    this.streams.set(sub, stream)
    const seq = ++stream.seq
    const entry: Stored = { ...publication, offset: `${stream.tag}-${seq}`, seq, bytes }
    stream.entries.push(entry)
    this.held++
    this.bytes += bytes
    this.trim(stream)
    this.evict(sub)
    return entry.offset
  }

  /**
   * The entries after `since` (docs/protocol.md §9 `rt:sync`).
   *
   * @param since - an offset, or null for none (then only `last`)
   */
  read(sub: string, since: string | null): SyncResult {
    const stream = this.streams.get(sub)
    if (stream) this.trim(stream)
    const last = stream && stream.seq > 0 ? `${stream.tag}-${stream.seq}` : null
    if (since === null) return { entries: [], last, gap: false }
    // From the start of what is held: a gap when retention dropped any entry.
    if (since === SYNC_FROM_START) {
      if (!stream) return { entries: [], last, gap: false }
      return { entries: stream.entries.map(publicEntry), last, gap: stream.dropped > 0 }
    }
    const seq = stream ? seqOf(stream, since) : undefined
    if (!stream || seq === undefined) return { entries: [], last, gap: true }
    const entries = stream.entries.filter((e) => e.seq > seq).map(publicEntry)
    return { entries, last, gap: stream.dropped > seq }
  }

  /** Entries held across all streams (for the metric). */
  get entriesHeld(): number {
    return this.held
  }

  /** Users' streams held (for the metric). */
  get streamsHeld(): number {
    return this.streams.size
  }

  /** Drop what is over the count or past the age limit, oldest first. */
  private trim(stream: Stream): void {
    const oldest = this.o.now() - this.o.ttlSeconds * 1000
    let n = 0
    while (
      n < stream.entries.length &&
      (stream.entries.length - n > this.o.maxEntries || stream.entries[n]!.ts <= oldest)
    )
      n++
    if (n === 0) return
    for (const dropped of stream.entries.splice(0, n)) {
      this.held--
      this.bytes -= dropped.bytes
      stream.dropped = dropped.seq
    }
  }

  /** Evict the least recently appended streams (never `keep`) while over a bound. */
  private evict(keep: string): void {
    for (const [sub, stream] of this.streams) {
      if (this.streams.size <= this.o.maxStreams && this.bytes <= this.o.maxBytes) return
      if (sub === keep) continue
      this.streams.delete(sub)
      this.held -= stream.entries.length
      for (const entry of stream.entries) this.bytes -= entry.bytes
    }
  }
}

/** An entry as `rt:sync` replays it, without the bookkeeping. */
function publicEntry({ seq: _s, bytes: _b, ...entry }: Stored): StreamEntry {
  return entry
}

/** The `seq` of an offset of this stream, or undefined when it never was one. */
function seqOf(stream: Stream, offset: string): number | undefined {
  const dash = offset.lastIndexOf('-')
  if (dash < 0 || offset.slice(0, dash) !== stream.tag) return undefined
  const digits = offset.slice(dash + 1)
  if (!/^[1-9][0-9]{0,15}$/.test(digits)) return undefined
  const seq = Number(digits)
  return seq <= stream.seq ? seq : undefined
}
