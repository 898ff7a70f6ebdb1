/**
 * The demo page's account panels (docs/accounts.md): sign up, forgot and
 * reset a password (through the local outbox), confirm an email, change the
 * password, and the list of sessions with revoke. Plain `fetch` against the
 * §13 routes; a session that a route opens (sign-up, email verification)
 * arrives as the HttpOnly refresh cookie, which `auth.resume()` turns into a
 * session, as a page reload does.
 */
import type { EdgeAuth } from '../../shared/client/index.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** What the page tells the panels. */
export interface AccountPanelsOptions {
  auth: EdgeAuth
  /** Whether the local outbox page exists (`OUTBOX_VIEW=open`). */
  outboxView: boolean
  /** Called once a route has opened a session (sign-up, email verification). */
  onSignedIn(): Promise<void>
}

interface EdgeError {
  error?: string
  error_description?: string
}

/** Show `text` in `el`, or hide it when there is none. */
export function show(el: HTMLElement, text: string | undefined) {
  el.hidden = !text
  el.textContent = text ?? ''
}

/** The message a refusal gets on the page. */
function explain(status: number, body: EdgeError | undefined, retryAfter: string | null): string {
  switch (body?.error) {
    case 'weak_password':
      return `Choose another password: ${(body.error_description ?? 'too weak').replace(/^password: /, '')}.`
    case 'invalid_request':
      return `Check the form: ${body.error_description ?? 'a field is not valid'}.`
    case 'conflict':
      return 'That username or email is taken.'
    case 'signup_closed':
      return 'Sign-up is closed on this server.'
    case 'invalid_grant':
      return 'This link is not valid any more (used, expired or replaced by a newer one).'
    case 'invalid_credentials':
      return 'The current password is wrong.'
    case 'rate_limited':
      return `Too many attempts. Try again in ${retryAfter ?? 'a few'} s.`
    default:
      return `Refused (HTTP ${status}).`
  }
}

async function send(
  method: string,
  path: string,
  body?: unknown,
  as?: { auth: EdgeAuth; use: 'session' | 'binding' },
): Promise<{ ok: boolean; status: number; data: unknown; message: string }> {
  let res: Response
  try {
    const init: RequestInit = {
      method,
      credentials: 'include',
      headers: {
        'x-edgegate-refresh': 'cookie',
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    }
    // A call that opens a session carries a DPoP proof by this browser's key, and one that
    // uses the session presents its access token as that session's binding requires (docs/dpop.md).
    res = !as
      ? await fetch(path, init)
      : as.use === 'session'
        ? await as.auth.authorizedFetch(path, init)
        : await as.auth.bindingFetch(path, init)
  } catch {
    return { ok: false, status: 0, data: undefined, message: 'The server cannot be reached.' }
  }
  const data: unknown = res.status === 204 ? undefined : await res.json().catch(() => undefined)
  return {
    ok: res.ok,
    status: res.status,
    data,
    message: res.ok ? '' : explain(res.status, data as EdgeError, res.headers.get('retry-after')),
  }
}

/** Show one of the login card's panels (login, sign-up, forgot, reset) and hide the others. */
/** Show one of the login card's panels in place of the others. */
export function panel(name: 'login' | 'signup' | 'forgot' | 'reset') {
  for (const id of ['login', 'signup', 'forgot', 'reset'] as const)
    $(`${id}-panel`).hidden = id !== name
  show($('account-notice'), undefined)
}

function notice(text: string, withOutbox: boolean, outboxView: boolean) {
  const el = $('account-notice')
  el.hidden = false
  el.textContent = text
  if (withOutbox && outboxView) {
    const link = document.createElement('a')
    link.href = '/dev/outbox/view'
    link.target = '_blank'
    link.rel = 'noopener'
    link.textContent = 'Open the local outbox'
    el.append(' ', link)
  }
}

function disableWhile(form: HTMLFormElement, busy: boolean) {
  for (const el of form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input'))
    el.disabled = busy
}

/**
 * Wire the panels. Returns `refreshSessions`, which the page calls once a
 * session starts.
 *
 * @param options - {@link AccountPanelsOptions}
 */
export function initAccountPanels(options: AccountPanelsOptions): {
  refreshSessions(): Promise<void>
} {
  const { auth, outboxView } = options
  const session = { auth, use: 'session' } as const

  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-panel]'))
    button.addEventListener('click', () => panel(button.dataset.panel as 'login'))

  $<HTMLFormElement>('signup-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    const form = e.currentTarget as HTMLFormElement
    const email = $<HTMLInputElement>('signup-email').value.trim()
    show($('signup-error'), undefined)
    disableWhile(form, true)
    const res = await send(
      'POST',
      '/auth/signup',
      {
        username: $<HTMLInputElement>('signup-username').value,
        password: $<HTMLInputElement>('signup-password').value,
        ...(email && { email }),
      },
      { auth, use: 'binding' },
    )
    disableWhile(form, false)
    if (!res.ok) return show($('signup-error'), res.message)
    $<HTMLInputElement>('signup-password').value = ''
    if (res.status === 202) {
      panel('login')
      return notice(
        'Account created. Confirm your email with the link we sent, then log in.',
        true,
        outboxView,
      )
    }
    await auth.resume()
    await options.onSignedIn()
    if (email)
      notice('We sent a link to confirm your email; a password reset needs it.', true, outboxView)
  })

  $<HTMLFormElement>('forgot-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    const value = $<HTMLInputElement>('forgot-name').value.trim()
    show($('forgot-error'), undefined)
    const res = await send(
      'POST',
      '/auth/password/forgot',
      value.includes('@') ? { email: value } : { username: value },
    )
    if (!res.ok) return show($('forgot-error'), res.message)
    panel('login')
    notice('If that account has a confirmed email, a reset link is on its way.', true, outboxView)
  })

  $<HTMLFormElement>('reset-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    show($('reset-error'), undefined)
    const token = new URLSearchParams(location.hash.slice(1)).get('reset') ?? ''
    const res = await send('POST', '/auth/password/reset', {
      token,
      password: $<HTMLInputElement>('reset-password').value,
    })
    if (!res.ok) return show($('reset-error'), res.message)
    $<HTMLInputElement>('reset-password').value = ''
    history.replaceState(null, '', location.pathname)
    panel('login')
    notice(
      'Password changed, and every session logged out. Log in with the new password.',
      false,
      outboxView,
    )
  })

  $<HTMLFormElement>('password-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    show($('password-error'), undefined)
    show($('password-done'), undefined)
    const res = await send(
      'POST',
      '/auth/password',
      {
        current_password: $<HTMLInputElement>('current-password').value,
        new_password: $<HTMLInputElement>('new-password').value,
      },
      session,
    )
    if (!res.ok) return show($('password-error'), res.message)
    $<HTMLInputElement>('current-password').value = ''
    $<HTMLInputElement>('new-password').value = ''
    show($('password-done'), 'Password changed. Your other sessions were logged out.')
    await refreshSessions()
  })

  async function refreshSessions(): Promise<void> {
    const res = await send('GET', '/auth/sessions', undefined, session)
    if (!res.ok) return
    const { sessions } = res.data as {
      sessions: { sid: string; lastUsedAt: number; userAgent?: string; current: boolean }[]
    }
    $('sessions').replaceChildren(
      ...sessions.map((s) => {
        const li = document.createElement('li')
        li.dataset.sid = s.sid
        const what = document.createElement('span')
        what.textContent = `${s.current ? 'This browser' : shortAgent(s.userAgent)} · ${new Date(s.lastUsedAt * 1000).toLocaleString()}`
        li.append(what)
        if (!s.current) {
          const revoke = document.createElement('button')
          revoke.type = 'button'
          revoke.className = 'secondary'
          revoke.textContent = 'Log out'
          revoke.setAttribute(
            'aria-label',
            `Log out the session last used ${new Date(s.lastUsedAt * 1000).toLocaleString()}`,
          )
          revoke.addEventListener('click', async () => {
            revoke.disabled = true
            await send('DELETE', `/auth/sessions/${encodeURIComponent(s.sid)}`, undefined, session)
            await refreshSessions()
          })
          li.append(revoke)
        }
        return li
      }),
    )
  }
  $('sessions-refresh').addEventListener('click', () => void refreshSessions())

  // Links from mail: the token is in the fragment, which is never sent to a server.
  const hash = new URLSearchParams(location.hash.slice(1))
  const reset = hash.get('reset')
  const verify = hash.get('verify')
  if (reset) panel('reset')
  else if (verify) {
    history.replaceState(null, '', location.pathname)
    void send('POST', '/auth/email/verify', { token: verify }, { auth, use: 'binding' }).then(
      async (res) => {
        if (!res.ok) return notice(res.message, false, outboxView)
        await auth.resume()
        await options.onSignedIn()
      },
    )
  }
  return { refreshSessions }
}

/** A short name for a user agent: the browser and platform, not the whole string. */
function shortAgent(agent: string | undefined): string {
  if (!agent) return 'Unknown device'
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(agent)?.[1] ?? 'Browser'
  const platform = /\(([^;)]+)/.exec(agent)?.[1] ?? ''
  return platform ? `${browser === 'Edg' ? 'Edge' : browser} on ${platform}` : browser
}
