/**
 * The demo page's "Sign in with <provider>" buttons (docs/federated-login.md):
 * one per provider in discovery's `edgegate_federation`, and the page's side
 * of the redirect back (an `?error=` shown, or the session resumed through
 * the refresh cookie the edge set).
 */
import { EdgeAuth } from '../../shared/client/index.ts'
import { show } from './accounts.ts'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** The query the demo's return URL carries (ALLOWED_RETURN_URLS lists `<issuer>/?signed_in=federated`). */
const RETURN_MARK = 'signed_in'

/** What the page tells the federated buttons. */
export interface FederatedButtonsOptions {
  auth: EdgeAuth
  /** The page's wording of an error. */
  describe(err: unknown): string
}

/**
 * Show a button per provider. The flow starts and ends on the edge's issuer
 * origin, where its cookies live (the page may be open as `localhost` for
 * passkeys, while the provider redirects to the issuer).
 *
 * @returns `completeRedirect`, which the page awaits on load: true when a federated login just opened a session
 */
export async function initFederatedButtons(options: FederatedButtonsOptions): Promise<{
  completeRedirect(): Promise<boolean>
}> {
  const { auth, describe } = options
  const discovery = (await fetch('/.well-known/openid-configuration')
    .then((r) => r.json())
    .catch(() => ({}))) as {
    issuer?: string
    edgegate_federation?: { id: string; name: string }[]
  }
  const issuer = discovery.issuer ?? location.origin
  const returnTo = `${issuer}/?${RETURN_MARK}=federated`
  const starter = new EdgeAuth({ edgeUrl: issuer, refreshStorage: 'cookie' })
  const list = $('federated-logins')
  for (const provider of discovery.edgegate_federation ?? []) {
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'secondary'
    button.textContent = `Sign in with ${provider.name}`
    button.dataset.provider = provider.id
    button.addEventListener('click', async () => {
      // The session the provider opens is bound to this browser's key, as a password login's is.
      const dpopJkt = await starter.keyThumbprint()
      location.assign(starter.federatedLoginUrl(provider.id, returnTo, dpopJkt ? { dpopJkt } : {}))
    })
    list.append(button)
  }
  return {
    async completeRedirect() {
      const here = new URL(location.href)
      if (here.searchParams.get(RETURN_MARK) !== 'federated') return false
      // The address bar loses the mark (and any error) so a reload does not replay it.
      history.replaceState(null, '', here.pathname)
      try {
        return (await auth.completeFederatedLogin(here.href)) !== undefined
      } catch (err) {
        show($('login-error'), describe(err))
        return false
      }
    },
  }
}
