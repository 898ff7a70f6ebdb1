/**
 * The demo page's lifecycle events panel (docs/webhooks.md): the last events
 * `npm start`'s local receiver verified, newest first, live over server-sent
 * events. The edge names the stream in `/demo/config` (`eventsUrl`, from
 * DEMO_EVENTS_URL); a deployed demo has none, and then the panel stays hidden
 * and the page makes no request. Event data is shown as text, never markup.
 */

/** Events the panel shows; older ones drop off the end. */
const EVENTS_PANEL_KEPT = 20
/** Names the panel remembers for subjects (from presence); the oldest is forgotten past it. */
const EVENTS_PANEL_MAX_NAMES = 500

/** A shown panel. */
export interface EventsPanel {
  /** Show `name` for `sub` (events carry only the subject), in rows shown and to come. */
  name(sub: string, name: string): void
  /** Stop following the stream. */
  close(): void
}

/** One lifecycle event as delivered (docs/protocol.md §16), the fields the panel reads. */
interface LifecycleEvent {
  type: string
  ts: number
  data: Record<string, unknown>
}

/**
 * Fill `panel` and follow `eventsUrl`, or leave `panel` hidden when there is no URL.
 *
 * @param panel - an empty, hidden element the panel is built in
 * @param eventsUrl - the server-sent events stream; undefined: no panel, no request
 * @returns the panel, or undefined when there is none
 * @example
 * ```ts
 * const events = showEventsPanel(document.getElementById('events-panel')!, config.eventsUrl)
 * events?.name(member.sub, member.name) // from presence: rows say "bob", not his sub
 * ```
 */
export function showEventsPanel(
  panel: HTMLElement,
  eventsUrl: string | undefined,
): EventsPanel | undefined {
  if (!eventsUrl) return undefined
  const names = new Map<string, string>()
  const title = element('h2', 'Lifecycle events')
  title.id = 'events-title'
  const hint = element('p', 'Waiting for the local receiver…')
  hint.className = 'hint'
  const list = element('ol')
  list.id = 'events'
  list.className = 'events-list'
  list.setAttribute('aria-labelledby', 'events-title')
  panel.setAttribute('aria-labelledby', 'events-title')
  panel.replaceChildren(title, hint, list)
  panel.hidden = false

  const source = new EventSource(eventsUrl)
  source.onopen = () => {
    if (list.childElementCount === 0)
      hint.textContent =
        'Webhooks from the local realtime node, verified. Log in as bob in another window, ' +
        'close it, and user.offline arrives after the presence grace.'
  }
  // EventSource reconnects by itself; say so until it does.
  source.onerror = () => {
    if (source.readyState !== EventSource.OPEN) hint.textContent = 'Receiver unreachable; retrying…'
  }
  source.onmessage = (message: MessageEvent<string>) => {
    const event = parse(message.data)
    if (!event) return
    list.prepend(renderEvent(event, names))
    while (list.childElementCount > EVENTS_PANEL_KEPT) list.lastElementChild?.remove()
  }
  return {
    name(sub, name) {
      if (names.get(sub) === name) return
      names.delete(sub)
      names.set(sub, name)
      if (names.size > EVENTS_PANEL_MAX_NAMES) names.delete(names.keys().next().value!)
      for (const row of list.querySelectorAll<HTMLElement>('li[data-sub]'))
        if (row.dataset.sub === sub) showName(row.querySelector<HTMLElement>('.detail')!, sub, name)
    },
    close: () => source.close(),
  }
}

/** The event, or undefined when the line is not one (the panel shows nothing for it). */
function parse(raw: string): LifecycleEvent | undefined {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { type, ts, data } = value as Partial<LifecycleEvent>
  if (typeof type !== 'string' || typeof data !== 'object' || !data) return undefined
  // A time a Date can hold (toISOString throws on any other).
  if (typeof ts !== 'number' || Number.isNaN(new Date(ts).getTime())) return undefined
  return { type, ts, data }
}

function renderEvent(event: LifecycleEvent, names: ReadonlyMap<string, string>): HTMLLIElement {
  const li = element('li')
  li.dataset.type = event.type
  const sub = typeof event.data.sub === 'string' ? event.data.sub : undefined
  if (sub !== undefined) li.dataset.sub = sub
  const time = element('time', new Date(event.ts).toLocaleTimeString())
  time.dateTime = new Date(event.ts).toISOString()
  const type = element('span', event.type)
  type.className = 'type'
  // user.*: { sub }; room.*: { room }; session.revoked: { kind, id }.
  const text = Object.values(event.data)
    .filter((v) => typeof v === 'string' || typeof v === 'number')
    .join(' ')
  const detail = element('span', text)
  detail.className = 'detail'
  detail.title = text
  const name = sub === undefined ? undefined : names.get(sub)
  if (sub !== undefined && name !== undefined) showName(detail, sub, name)
  li.append(time, type, detail)
  return li
}

/** The name on screen; the subject too in the tooltip. */
function showName(detail: HTMLElement, sub: string, name: string): void {
  detail.textContent = name
  detail.title = `${name} (${sub})`
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (text !== undefined) el.textContent = text
  return el
}
