/**
 * A minimal browser for federated-login tests from Node: follows redirects by
 * hand and keeps one cookie jar by name, ignoring Path (every server here is on
 * 127.0.0.1, whose cookies a browser shares across ports too, and their cookie
 * names differ), so a test can watch and tamper with each hop.
 */

/** A cookie jar and the hops of the last navigation. */
export class Navigator {
  private readonly cookies = new Map<string, string>()
  /** Every URL visited by the last {@link Navigator.go}, in order. */
  hops: string[] = []

  /** The cookie `name` as the jar holds it. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name)
  }

  /** Set or replace a cookie (a test that tampers with one). */
  setCookie(name: string, value: string): void {
    this.cookies.set(name, value)
  }

  /** Forget every cookie. */
  clear(): void {
    this.cookies.clear()
  }

  /** One request with the jar's cookies; stores what the response sets. */
  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size > 0)
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === ''
      if (expired) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }

  /**
   * Follow redirects from `url` until a response that is not one, or until
   * `stop` says so for a URL about to be visited (it is not visited then).
   *
   * @returns the last response, and the URL it was for (or the URL `stop` held back)
   */
  async go(
    url: string,
    init: RequestInit = {},
    stop: (next: URL) => boolean = () => false,
  ): Promise<{ res: Response | undefined; url: string }> {
    this.hops = []
    let current = url
    let options = init
    for (let i = 0; i < 20; i++) {
      this.hops.push(current)
      const res = await this.request(current, options)
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || !location) return { res, url: current }
      await res.body?.cancel()
      const next = new URL(location, current)
      if (stop(next)) return { res: undefined, url: next.href }
      current = next.href
      options = {}
    }
    throw new Error('too many redirects')
  }
}

/**
 * Sign in at the demo provider's login form, from the edge's authorization
 * redirect to the provider's redirect back to the edge's callback (not
 * followed: the caller decides what to do with it).
 *
 * @param nav - the navigator holding the flow cookie
 * @param authorizeUrl - where the edge's start sent the browser
 * @param account - the demo account
 * @returns the callback URL with `code` and `state`
 */
export async function signInAtDemoIdp(
  nav: Navigator,
  authorizeUrl: string,
  account: { username: string; password: string },
): Promise<string> {
  const isCallback = (u: URL) => u.pathname.includes('/auth/federated/')
  const page = await nav.go(authorizeUrl, {}, isCallback)
  if (!page.res) return page.url
  const html = await page.res.text()
  const action = /action="([^"]+)"/.exec(html)?.[1]
  if (!action) throw new Error(`no login form at ${page.url}: HTTP ${page.res.status}`)
  const back = await nav.go(
    new URL(action, page.url).href,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(account).toString(),
    },
    isCallback,
  )
  if (back.res) throw new Error(`the provider did not redirect back: HTTP ${back.res.status}`)
  return back.url
}
