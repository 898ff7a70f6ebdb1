/**
 * "Sign in with Demo IdP" on the demo page in real Chromium (docs/federated-login.md):
 * the page's button, the demo OpenID provider's login form, the edge's callback
 * setting the refresh cookie, and back on the page a session, a socket and a chat
 * message, against the real edge (`wrangler dev`) and a real realtime node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_IDP_ACCOUNTS } from '../../edge/local/demo-idp.ts'
import { CONNECTED, openDemoPage, startPageStack, type PageStack } from './page-stack.ts'

let stack: PageStack

beforeAll(async () => {
  stack = await startPageStack({
    name: 'federated-browser',
    vars: { SIGNUP: 'open' },
    demoIdp: true,
  })
}, 120_000)

afterAll(() => stack?.stop())

describe('the demo page: federated login', { timeout: 240_000 }, () => {
  it('signs in with Demo IdP, comes back connected, and chats', async () => {
    const { pageOrigin } = stack
    const idp = stack.idp!
    const page = await stack.newPage()
    await openDemoPage(page, pageOrigin)
    const button = page.locator('#federated-logins button', { hasText: 'Sign in with Demo IdP' })
    // The start names this browser's DPoP key (RFC 9449 §10), so the session comes back bound.
    const start = page.waitForRequest((r) => r.url().includes('/auth/federated/'))
    await button.click()
    expect(new URL((await start).url()).searchParams.get('dpop_jkt')).toMatch(/^[\w-]{43}$/)
    // The provider's own login page.
    await page.waitForURL(`${idp.issuer}/**`)
    const dana = DEMO_IDP_ACCOUNTS[0]!
    await page.fill('input[name="username"]', dana.username)
    await page.fill('input[name="password"]', dana.password)
    await page.click('button[type="submit"]')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)
    expect(await page.textContent('#whoami')).toBe(dana.username)
    expect(await page.textContent('#binding')).toBe("Session bound to this browser's key (DPoP)")
    // The page took the return mark out of the address bar.
    expect(page.url()).toBe(`${pageOrigin}/`)
    const cookies = await page.context().cookies(pageOrigin + '/auth')
    expect(cookies.find((c) => c.name === 'edgegate_refresh')?.httpOnly).toBe(true)

    const text = `signed in with Demo IdP ${crypto.randomUUID().slice(0, 6)}`
    await page.fill('#message-input', text)
    await page.click('#send')
    await page.waitForSelector(`#messages li:has-text("${text}")`)
  })
})
