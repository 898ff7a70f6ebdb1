// Why this file is over 300 lines: the whole demo page in one script, so a
// reader sees every SDK call a page makes in one place; it has no logic the
// SDK does not already test.
/**
 * The demo page, built on the client SDK only: log in at the edge, connect
 * to realtime, see the connection and token state, join rooms the token
 * allows, chat, see notifications other services publish, log out.
 */
import type { ChatMessage } from '../../shared/events.ts'
import {
  ClientError,
  EdgeAuth,
  PresenceView,
  RealtimeClient,
  type ConnectionState,
  type PresenceViewMember,
} from '../../shared/client/index.ts'
import { initAccountPanels } from './accounts.ts'
import { showEventsPanel } from './events-panel.ts'
import { initFederatedButtons } from './federated.ts'
import { initPasskeyButtons } from './passkeys.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const config = (await (await fetch('/demo/config')).json()) as {
  realtimeUrl: string
  outboxView?: boolean
  eventsUrl?: string
}
const eventsPanel = showEventsPanel($('events-panel'), config.eventsUrl)

const auth = new EdgeAuth({ edgeUrl: location.origin, refreshStorage: 'cookie' })
const SESSION_HINT = 'edgegate.session'
let client: RealtimeClient | undefined
let activeRoom: string | undefined
const joined = new Set<string>()
const history = new Map<string, ChatMessage[]>()
const seen = new Set<string>()
/** Who is in the active room (docs/protocol.md §10), kept current by the server's batches. */
let presence: PresenceView | undefined
/** The event `npm run demo:notify` publishes, and where the page keeps its stream offset between visits. */
const NOTIFICATION_EVENT = 'notification'
const NOTIFICATION_OFFSET = 'edgegate.notification-offset'

const STATE_TEXT: Record<ConnectionState, string> = {
  idle: 'not connected',
  connecting: 'connecting…',
  connected: 'connected',
  refreshing: 'refreshing token…',
  reconnecting: 'reconnecting…',
  auth_required: 'signed out',
  failed: 'connection refused',
  closed: 'disconnected',
}

function show(el: HTMLElement, text: string | undefined) {
  el.hidden = !text
  el.textContent = text ?? ''
}

function describe(err: unknown): string {
  if (err instanceof ClientError) {
    switch (err.code) {
      case 'invalid_credentials':
        return 'Wrong username or password.'
      case 'rate_limited':
        return `Too many attempts. Try again in ${Math.ceil((err.retryAfterMs ?? 60_000) / 1000)} s.`
      case 'forbidden':
        return 'Your token does not allow that.'
      case 'envelope_invalid':
        return 'That message is not valid.'
      case 'network':
        return 'The server cannot be reached.'
      case 'timeout':
        return 'No answer from the server; try again.'
      case 'signup_closed':
        return 'No account is linked to that sign-in, and sign-up is closed.'
      case 'unavailable':
        return 'The sign-in provider cannot be reached; try again later.'
      default:
        return `Refused: ${err.code}`
    }
  }
  return 'Something went wrong.'
}

let connectionState: ConnectionState = 'idle'

function setState(state: ConnectionState) {
  connectionState = state
  const pill = $('status')
  pill.dataset.state = state
  pill.textContent = STATE_TEXT[state]
  renderSendBox()
}

/**
 * The Send box is open while connected to a user whose scope has `chat:write`: a read-only
 * user (carol) would only be refused, so theirs is shut and says why.
 */
function renderSendBox() {
  const readOnly = !(auth.current()?.scope.split(' ') ?? []).includes('chat:write')
  const online = ['connected', 'refreshing', 'reconnecting'].includes(connectionState)
  const input = $<HTMLInputElement>('message-input')
  input.disabled = readOnly
  input.placeholder = readOnly ? 'Read only: your scope has no chat:write' : 'Say something'
  $<HTMLButtonElement>('send').disabled = readOnly || !online
}

function renderSession() {
  const session = auth.current()
  $('whoami').textContent = session ? session.name : ''
  $('user-name').textContent = session?.name ?? ''
  $('user-scope').textContent = session?.scope ?? ''
  $('patterns').textContent = session?.rooms.join(', ') ?? ''
  $('refreshes').textContent = String(auth.refreshes)
  // docs/dpop.md: a bound session's tokens are useless without this browser's key.
  $('binding').textContent = !session
    ? ''
    : session.jkt
      ? "Session bound to this browser's key (DPoP)"
      : 'Bearer session (not bound to a key)'
  renderSendBox()
}

function renderRooms() {
  const list = $('rooms')
  list.replaceChildren(
    ...[...joined].map((room) => {
      const li = document.createElement('li')
      li.dataset.room = room
      li.setAttribute('aria-current', String(room === activeRoom))
      const name = document.createElement('span')
      name.textContent = room
      const leave = document.createElement('button')
      leave.type = 'button'
      leave.title = `Leave ${room}`
      leave.textContent = '×'
      leave.addEventListener('click', (e) => {
        e.stopPropagation()
        void leaveRoom(room)
      })
      li.append(name, leave)
      li.addEventListener('click', () => selectRoom(room))
      return li
    }),
  )
}

function renderPresence(members: PresenceViewMember[]) {
  $('presence').replaceChildren(
    ...members.map((m) => {
      const li = document.createElement('li')
      li.dataset.sub = m.sub
      li.textContent = m.name
      eventsPanel?.name(m.sub, m.name)
      return li
    }),
  )
}

function followPresence(room: string | undefined) {
  presence?.close()
  presence = undefined
  renderPresence([])
  if (!room || !client) return
  const view = new PresenceView(client, room, {
    onChange: (m) => view === presence && renderPresence(m),
  })
  presence = view
  view.start().catch(() => undefined)
}

function selectRoom(room: string | undefined) {
  if (room !== activeRoom || !presence) followPresence(room)
  activeRoom = room
  $('room-title').textContent = room ?? 'No room'
  renderRooms()
  $('messages').replaceChildren(...(room ? (history.get(room) ?? []).map(renderMessage) : []))
}

function renderMessage(m: ChatMessage) {
  const li = document.createElement('li')
  li.dataset.id = m.id
  const time = document.createElement('span')
  time.className = 'time'
  time.textContent = new Date(m.ts).toLocaleTimeString()
  const from = document.createElement('span')
  from.className = 'from'
  from.textContent = m.from.name
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = m.text
  li.append(time, from, text)
  return li
}

function onMessage(m: ChatMessage) {
  if (seen.has(m.id)) return
  seen.add(m.id)
  const list = history.get(m.room) ?? []
  list.push(m)
  history.set(m.room, list)
  if (m.room === activeRoom) {
    const ol = $('messages')
    ol.append(renderMessage(m))
    ol.scrollTop = ol.scrollHeight
  }
}

async function joinRoom(room: string) {
  show($('room-error'), undefined)
  try {
    await client!.join(room)
    joined.add(room)
    selectRoom(room)
  } catch (err) {
    show($('room-error'), describe(err))
  }
}

async function leaveRoom(room: string) {
  try {
    await client!.leave(room)
  } finally {
    joined.delete(room)
    selectRoom(activeRoom === room ? [...joined][0] : activeRoom)
  }
}

function signedOut(message?: string) {
  localStorage.removeItem(SESSION_HINT)
  // The offset is this user's place in their own stream.
  localStorage.removeItem(NOTIFICATION_OFFSET)
  document.getElementById('notifications')?.previousElementSibling?.remove()
  document.getElementById('notifications')?.remove()
  client?.close()
  client = undefined
  followPresence(undefined)
  joined.clear()
  history.clear()
  seen.clear()
  $('app').hidden = true
  $('login').hidden = false
  show($('login-error'), message)
  setState('auth_required')
  renderSession()
}

/** Server-published notifications (docs/protocol.md §8), newest first, in a list the page adds once. */
function showNotification(data: unknown, ts: number) {
  let list = document.getElementById('notifications')
  if (!list) {
    const heading = document.createElement('h2')
    heading.textContent = 'Notifications'
    list = document.createElement('ul')
    list.id = 'notifications'
    list.className = 'rooms'
    list.setAttribute('aria-live', 'polite')
    $('logout').before(heading, list)
  }
  const li = document.createElement('li')
  const text =
    typeof data === 'object' &&
    data !== null &&
    typeof (data as { text?: unknown }).text === 'string'
  li.textContent = `${new Date(ts).toLocaleTimeString()} ${text ? (data as { text: string }).text : JSON.stringify(data)}`
  list.prepend(li)
  while (list.children.length > 20) list.lastElementChild!.remove()
}

async function start() {
  $('login').hidden = true
  $('app').hidden = false
  renderSession()
  client = new RealtimeClient({
    url: config.realtimeUrl,
    auth,
    notifications: { since: localStorage.getItem(NOTIFICATION_OFFSET) },
    onStateChange: (state) => {
      setState(state)
      renderSession()
    },
    onAuthRequired: (code) =>
      signedOut(
        code === 'token_revoked'
          ? 'Your session was ended. Please log in again.'
          : 'Please log in again.',
      ),
  })
  client.on<ChatMessage>('chat:message', onMessage)
  client.onNotification<unknown>(NOTIFICATION_EVENT, (n) => {
    showNotification(n.data, n.ts)
    if (n.offset) localStorage.setItem(NOTIFICATION_OFFSET, n.offset)
  })
  try {
    await client.connect()
  } catch (err) {
    if (client) show($('send-error'), describe(err))
    return
  }
  void accounts.refreshSessions()
  void passkeys.refreshPasskeys()
  const first = auth.current()?.rooms.find((p) => !p.endsWith('*'))
  if (first) await joinRoom(first)
}

const accounts = initAccountPanels({
  auth,
  outboxView: config.outboxView === true,
  onSignedIn: async () => {
    localStorage.setItem(SESSION_HINT, '1')
    await start()
  },
})

const passkeys = initPasskeyButtons({
  auth,
  describe,
  onSignedIn: async () => {
    localStorage.setItem(SESSION_HINT, '1')
    await start()
  },
})

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const button = $<HTMLButtonElement>('login-button')
  button.disabled = true
  show($('login-error'), undefined)
  try {
    await auth.login($<HTMLInputElement>('username').value, $<HTMLInputElement>('password').value)
    localStorage.setItem(SESSION_HINT, '1')
    $<HTMLInputElement>('password').value = ''
    await start()
  } catch (err) {
    show($('login-error'), describe(err))
  } finally {
    button.disabled = false
  }
})

for (const button of document.querySelectorAll<HTMLButtonElement>('[data-user]')) {
  button.addEventListener('click', () => {
    $<HTMLInputElement>('username').value = button.dataset.user!
    $<HTMLInputElement>('password').value = `${button.dataset.user}-password-1`
  })
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault()
  const input = $<HTMLInputElement>('join-input')
  void joinRoom(input.value.trim()).then(() => (input.value = ''))
})

$('send-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const input = $<HTMLInputElement>('message-input')
  const text = input.value
  if (!activeRoom || !text) return
  show($('send-error'), undefined)
  input.value = ''
  try {
    await client!.emit('chat:send', { room: activeRoom, text })
  } catch (err) {
    input.value = text
    show($('send-error'), describe(err))
  }
})

$('logout').addEventListener('click', async () => {
  await auth.logout().catch(() => undefined)
  signedOut()
})

setInterval(() => {
  const exp = auth.current()?.exp
  $('expires').textContent = exp ? `${Math.max(0, Math.round(exp - Date.now() / 1000))} s` : '–'
}, 500)

setState('idle')
// The login form is disabled in the HTML until now: its handler is attached.
$<HTMLFieldSetElement>('login-fields').disabled = false
const federated = await initFederatedButtons({ auth, describe })
// Back from a federated login: the edge set the refresh cookie (or the URL carries ?error=).
if (await federated.completeRedirect()) {
  localStorage.setItem(SESSION_HINT, '1')
  await start()
}
// A live session (the HttpOnly cookie) survives a reload. The hint is not a
// secret; it only saves a refresh request (and its 4xx) when there was never a session.
else if (localStorage.getItem(SESSION_HINT) && (await auth.resume().catch(() => undefined)))
  await start()
else localStorage.removeItem(SESSION_HINT)
