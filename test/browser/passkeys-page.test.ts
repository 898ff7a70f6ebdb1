/**
 * Passkeys on the demo page in real Chromium with a virtual authenticator
 * (the DevTools protocol's WebAuthn domain through playwright-core's CDP
 * session: CTAP2, internal transport, resident keys, user verification),
 * against the real edge and a real realtime node: register a passkey, log
 * out, log in with it, connect and chat; a passkey-only sign-up; deleting the
 * last passkey of a passkey-only account refused. The page is served as
 * `localhost` (RP_ID), since browsers refuse an IP address as an RP id.
 */
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONNECTED, openDemoPage, startPageStack, type PageStack } from './page-stack.ts'

let stack: PageStack
let pageOrigin: string

beforeAll(async () => {
  // Served as localhost: browsers refuse an IP address as an RP id.
  stack = await startPageStack({
    name: 'passkeys-browser',
    pageHost: 'localhost',
    vars: (origin) => ({ SIGNUP: 'open', RP_ID: 'localhost', RP_ORIGINS: origin }),
  })
  pageOrigin = stack.pageOrigin
}, 120_000)

afterAll(() => stack?.stop())

/** A page in a fresh context with its own virtual platform authenticator. */
async function pageWithAuthenticator(): Promise<Page> {
  const page = await stack.newPage()
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
  await openDemoPage(page, pageOrigin)
  return page
}

describe('the demo page: passkeys', { timeout: 240_000 }, () => {
  it('registers a passkey, logs out, logs in with it, connects and chats', async () => {
    const page = await pageWithAuthenticator()
    await page.fill('#username', 'alice')
    await page.fill('#password', 'alice-password-1')
    await page.click('#login-button')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)

    await page.click('#passkey-add')
    await page.waitForSelector('#passkeys li:has-text("Passkey")')
    expect(await page.locator('#passkey-error').isHidden()).toBe(true)

    await page.click('#logout')
    await page.waitForSelector('#login:not([hidden])')
    await page.click('#passkey-login')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)
    expect(await page.textContent('#whoami')).toBe('alice')

    const text = `signed in with a passkey ${crypto.randomUUID().slice(0, 6)}`
    await page.fill('#message-input', text)
    await page.click('#send')
    await page.waitForSelector(`#messages li:has-text("${text}")`)
  })

  it('signs up with a passkey only, and will not delete that last passkey', async () => {
    const page = await pageWithAuthenticator()
    const username = `pk-${crypto.randomUUID().slice(0, 6)}`
    await page.click('button[data-panel="signup"]')
    await page.fill('#signup-username', username)
    await page.click('#passkey-signup')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)
    expect(await page.textContent('#whoami')).toBe(username)

    await page.waitForSelector('#passkeys li')
    await page.click('#passkeys li button')
    await page.waitForSelector('#passkey-error:has-text("only way to log in")')
    expect(await page.locator('#passkeys li').count()).toBe(1)

    // And the passkey still logs in after a logout.
    await page.click('#logout')
    await page.waitForSelector('#login:not([hidden])')
    await page.click('#passkey-login')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)
    expect(await page.textContent('#whoami')).toBe(username)
  })
})
