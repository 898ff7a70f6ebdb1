import { MAX_IDEMPOTENCY_KEYS, PUBLISH_IDEMPOTENCY_TTL_SECONDS } from '../constants.ts'
import { MemoryUserStreams, type MemoryUserStreamsOptions } from './memory-streams.ts'
import type { PublishAnswer, PublishStore } from './types.ts'

/** Options of {@link MemoryPublishStore}. */
export interface MemoryPublishStoreOptions extends MemoryUserStreamsOptions {
  /** Publish ids remembered at most; the oldest go first. @default 100000 */
  maxIdempotencyKeys?: number
  /** Idempotency window, seconds. @default 600 */
  idempotencyTtlSeconds?: number
}

/**
 * The {@link PublishStore} of a single node: idempotency keys and user
 * streams in bounded memory. Everything happens synchronously, so two
 * requests with one id can never both be first.
 */
export class MemoryPublishStore implements PublishStore {
  /** By `<client_id> <id>`, oldest first (every key lives the same time). */
  private readonly answers = new Map<string, { answer: PublishAnswer; expires: number }>()
  readonly streams: MemoryUserStreams
  private readonly maxKeys: number
  private readonly ttlMs: number
  private readonly now: () => number

  constructor(options: MemoryPublishStoreOptions = {}) {
    this.streams = new MemoryUserStreams(options)
    this.maxKeys = options.maxIdempotencyKeys ?? MAX_IDEMPOTENCY_KEYS
    this.ttlMs = (options.idempotencyTtlSeconds ?? PUBLISH_IDEMPOTENCY_TTL_SECONDS) * 1000
    this.now = options.now ?? Date.now
  }

  async accept(...[clientId, to, publication]: Parameters<PublishStore['accept']>) {
    const now = this.now()
    this.expire(now)
    // A space never occurs in an id, so the key is unambiguous.
    const key = `${clientId} ${publication.id}`
    const prior = this.answers.get(key)
    if (prior) return { first: false, answer: prior.answer }
    const answer: PublishAnswer = { id: publication.id }
    if ('user' in to)
      answer.offset = this.streams.append(to.user, publication, dataBytes(publication.data))
    this.answers.set(key, { answer, expires: now + this.ttlMs })
    while (this.answers.size > this.maxKeys) this.answers.delete(this.answers.keys().next().value!)
    return { first: true, answer }
  }

  async read(sub: string, since: string | null) {
    return this.streams.read(sub, since)
  }

  /** Publish ids remembered (for the metric). */
  get keysHeld(): number {
    return this.answers.size
  }

  private expire(now: number): void {
    for (const [key, { expires }] of this.answers) {
      if (expires > now) return
      this.answers.delete(key)
    }
  }
}

/** Serialized size of `data`, for the memory bound (already checked to be JSON). */
function dataBytes(data: unknown): number {
  return Buffer.byteLength(JSON.stringify(data) ?? '')
}
