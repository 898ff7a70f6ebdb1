/** A member as a {@link PresenceView} shows it. */
export interface PresenceViewMember {
  sub: string
  name: string
}

/** What a {@link PresenceView} needs of a client: {@link RealtimeClient}'s `emit` and `on`. */
export interface PresenceTransport {
  emit<T = unknown>(event: string, data: unknown): Promise<T>
  on<T = unknown>(event: string, handler: (payload: T) => void): () => void
}

/** Options of {@link PresenceView}. */
export interface PresenceViewOptions {
  /** Called with the members, by `sub`, after each change. */
  onChange?: (members: PresenceViewMember[]) => void
  /** Called when a (re)query fails; the view keeps what it had. */
  onError?: (err: unknown) => void
}

type Batch = { room: string; joined: PresenceViewMember[]; left: { sub: string }[] }
type Page = { members: (PresenceViewMember & { connections: number })[]; next?: string }

/**
 * Who is in a room, kept current (docs/protocol.md §10): the members from
 * `rt:presence` (every page), then each change batch the server sends.
 * Batches that arrive while a query runs are applied after it. After every
 * reconnect the view queries again, since batches sent while it was away
 * are lost. Join the room first: the server answers only members.
 *
 * @example
 * ```ts
 * await client.join('lobby')
 * const view = new PresenceView(client, 'lobby', { onChange: (m) => render(m) })
 * await view.start()
 * ```
 */
export class PresenceView {
  private members = new Map<string, PresenceViewMember>()
  private pending: Batch[] | undefined
  private readonly offs: (() => void)[] = []
  private readonly client: PresenceTransport
  private readonly room: string
  private readonly options: PresenceViewOptions
  private started = false

  constructor(client: PresenceTransport, room: string, options: PresenceViewOptions = {}) {
    this.client = client
    this.room = room
    this.options = options
  }

  /** Query the room and follow its batches; resolves once the first query is in. */
  async start(): Promise<void> {
    if (!this.started) {
      this.started = true
      this.offs.push(this.client.on<Batch>('rt:presence', (batch) => this.onBatch(batch)))
      this.offs.push(
        this.client.on(
          'connect',
          () => void this.refresh().catch((err) => this.options.onError?.(err)),
        ),
      )
    }
    await this.refresh()
  }

  /** The members, by `sub`. */
  list(): PresenceViewMember[] {
    return [...this.members.values()].sort((a, b) => (a.sub < b.sub ? -1 : a.sub > b.sub ? 1 : 0))
  }

  /** Stop following. */
  close(): void {
    for (const off of this.offs.splice(0)) off()
  }

  /** Query every page again and replace the members. */
  async refresh(): Promise<void> {
    this.pending ??= []
    try {
      const members = new Map<string, PresenceViewMember>()
      let cursor: string | undefined
      do {
        const page = await this.client.emit<Page>('rt:presence', {
          room: this.room,
          ...(cursor && { cursor }),
        })
        for (const m of page.members) members.set(m.sub, { sub: m.sub, name: m.name })
        cursor = page.next
      } while (cursor)
      this.members = members
    } finally {
      // Two refreshes may overlap (start and a reconnect): the first to end applies what was held.
      const held = this.pending ?? []
      this.pending = undefined
      for (const batch of held) this.apply(batch)
      this.options.onChange?.(this.list())
    }
  }

  private onBatch(batch: Batch): void {
    if (batch?.room !== this.room) return
    if (this.pending) this.pending.push(batch)
    else {
      this.apply(batch)
      this.options.onChange?.(this.list())
    }
  }

  private apply(batch: Batch): void {
    for (const { sub } of batch.left) this.members.delete(sub)
    for (const { sub, name } of batch.joined) this.members.set(sub, { sub, name })
  }
}
