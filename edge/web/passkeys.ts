/**
 * The demo page's passkey buttons (docs/passkeys.md): "Sign in with passkey"
 * on the login form, "Sign up with a passkey" on the sign-up form, and the
 * account panel's list of passkeys with "Add a passkey" and delete. The
 * ceremonies run through the client SDK (`@simplewebauthn/browser` inside).
 */
import type { EdgeAuth } from '../../shared/client/index.ts'
import { panel, show } from './accounts.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** What the page tells the passkey buttons. */
export interface PasskeyButtonsOptions {
  auth: EdgeAuth
  /** Called once a passkey login or sign-up has opened a session. */
  onSignedIn(): Promise<void>
  /** The page's wording of an error. */
  describe(err: unknown): string
}

/**
 * Wire the buttons.
 *
 * @returns `refreshPasskeys`, which the page calls once logged in
 */
export function initPasskeyButtons(options: PasskeyButtonsOptions): {
  refreshPasskeys(): Promise<void>
} {
  const { auth, onSignedIn, describe } = options

  async function run(button: HTMLButtonElement, errorEl: HTMLElement, work: () => Promise<void>) {
    button.disabled = true
    show(errorEl, undefined)
    try {
      await work()
    } catch (err) {
      show(errorEl, describe(err))
    } finally {
      button.disabled = false
    }
  }

  async function refreshPasskeys() {
    if (!auth.current()) return
    const res = await auth.authorizedFetch('/auth/passkeys')
    if (!res.ok) return
    const { passkeys } = (await res.json()) as { passkeys: { id: string; name: string }[] }
    const list = $('passkeys')
    list.replaceChildren(
      ...passkeys.map((p) => {
        const li = document.createElement('li')
        li.textContent = `${p.name} `
        const del = document.createElement('button')
        del.type = 'button'
        del.className = 'link'
        del.textContent = 'Delete'
        del.setAttribute('aria-label', `Delete passkey ${p.name}`)
        del.addEventListener('click', async () => {
          const answer = await auth.authorizedFetch(`/auth/passkeys/${encodeURIComponent(p.id)}`, {
            method: 'DELETE',
          })
          show(
            $('passkey-error'),
            answer.status === 409
              ? 'This passkey is your only way to log in: add another first.'
              : answer.ok
                ? undefined
                : `Refused (HTTP ${answer.status}).`,
          )
          await refreshPasskeys()
        })
        li.append(del)
        return li
      }),
    )
  }

  $<HTMLButtonElement>('passkey-login').addEventListener('click', (e) =>
    run(e.currentTarget as HTMLButtonElement, $('login-error'), async () => {
      await auth.loginWithPasskey()
      await onSignedIn()
    }),
  )
  $<HTMLButtonElement>('passkey-signup').addEventListener('click', (e) =>
    run(e.currentTarget as HTMLButtonElement, $('signup-error'), async () => {
      const username = $<HTMLInputElement>('signup-username').value.trim()
      if (!username) throw new Error('a username first')
      await auth.signupWithPasskey(username)
      // A later logout shows the login form, not this one.
      panel('login')
      await onSignedIn()
    }),
  )
  $<HTMLButtonElement>('passkey-add').addEventListener('click', (e) =>
    run(e.currentTarget as HTMLButtonElement, $('passkey-error'), async () => {
      await auth.registerPasskey()
      await refreshPasskeys()
    }),
  )
  return { refreshPasskeys }
}
