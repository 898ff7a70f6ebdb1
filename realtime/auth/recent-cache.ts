/**
 * A bounded map of recently used entries in two generations (the scheme of
 * quick-lru): a hit in the current generation costs one lookup and changes
 * nothing; a hit in the previous one moves the entry forward; when the
 * current generation is full it becomes the previous one, and the previous
 * one is dropped whole.
 *
 * An exact LRU (a Map with delete-and-set on every hit) rewrites the map on
 * each hit, and every few hundred hits V8 rebuilds its table: on the
 * reconnect path that was a new table of a thousand entries to allocate and
 * to copy out of the young generation, per a few hundred handshakes.
 */
export class RecentCache<K, V> {
  private current = new Map<K, V>()
  private previous = new Map<K, V>()
  private readonly generation: number

  /** @param maxSize - most entries held, both generations together (under 2: none) */
  constructor(maxSize: number) {
    if (!Number.isInteger(maxSize) || maxSize < 0)
      throw new RangeError('RecentCache: maxSize must be a non-negative integer')
    this.generation = Math.floor(maxSize / 2)
  }

  /** The entry of `key`, marked as recently used; undefined when it is not held. */
  get(key: K): V | undefined {
    const value = this.current.get(key)
    if (value !== undefined) return value
    const old = this.previous.get(key)
    if (old === undefined) return undefined
    // Moved forward: `set` takes it out of the previous generation.
    this.set(key, old)
    return old
  }

  /** Hold `value` as the entry of `key`, the least recently used ones making room. */
  set(key: K, value: V): void {
    if (this.generation === 0) return
    if (this.current.has(key)) {
      this.current.set(key, value)
      return
    }
    this.previous.delete(key)
    if (this.current.size >= this.generation) {
      this.previous = this.current
      this.current = new Map()
    }
    this.current.set(key, value)
  }

  /** How many entries are held. */
  get size(): number {
    return this.current.size + this.previous.size
  }
}
