/**
 * The demo page's account panels in a real browser (Debian's chromium via
 * playwright-core), against the real edge (wrangler dev with SIGNUP=open,
 * MAILER=outbox, OUTBOX_VIEW=open) and a real realtime node: sign up, confirm
 * the email from the local outbox page, log out, reset a forgotten password
 * through the outbox, log in with it, and log a second browser out from the
 * session list while it watches its socket close.
 */
import AxeBuilder from '@axe-core/playwright'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EdgeProcess } from '../../edge/local/edge-process.ts'
import { CONNECTED, startPageStack, type PageStack } from './page-stack.ts'

let stack: PageStack
let edge: EdgeProcess

beforeAll(async () => {
  stack = await startPageStack({
    name: 'accounts-browser',
    demoUsers: false,
    vars: { SIGNUP: 'open', MAILER: 'outbox', OUTBOX_VIEW: 'open' },
  })
  edge = stack.edge
}, 120_000)

afterAll(() => stack?.stop())

const newPage = () => stack.newPage()

/** Follow the newest link of `kind` to `to` on the local outbox page. */
async function followMailLink(page: Page, to: string, kind: 'verify' | 'reset') {
  await page.goto(`${edge.url}/dev/outbox/view`)
  const link = page.locator(`article:has-text("to ${to} · ${kind}") a`).first()
  const href = await link.getAttribute('href')
  expect(href).toMatch(new RegExp(`#${kind}=`))
  await page.goto(href!)
}

describe('the demo page: accounts', { timeout: 240_000 }, () => {
  it('signs up, resets a forgotten password through the outbox, and logs another browser out', async () => {
    const username = `dana-${crypto.randomUUID().slice(0, 6)}`
    const email = `${username}@example.test`
    const first = 'first-Pw-' + crypto.randomUUID().slice(0, 8)
    const second = 'second-Pw-' + crypto.randomUUID().slice(0, 8)
    const page = await newPage()
    await page.goto(edge.url)
    // The page enables its login fields once its script has attached every handler.
    await page.waitForSelector('#login-fields:not([disabled])')

    // Sign up: a weak password is refused by rule, then a good one logs in.
    await page.click('button[data-panel="signup"]')
    await page.fill('#signup-username', username)
    await page.fill('#signup-email', email)
    await page.fill('#signup-password', 'password')
    await page.click('#signup-form button[type="submit"]')
    await page.waitForSelector('#signup-error:has-text("most common")')
    await page.fill('#signup-password', first)
    await page.click('#signup-form button[type="submit"]')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)
    expect(await page.textContent('#whoami')).toBe(username)

    // Confirm the email from the outbox (the page logs in again from the link).
    await followMailLink(page, email, 'verify')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)

    // Log out, forget the password, reset it through the outbox, log in with the new one.
    await page.click('#logout')
    await page.waitForSelector('#login:not([hidden])')
    await page.click('button[data-panel="forgot"]')
    await page.fill('#forgot-name', username)
    await page.click('#forgot-form button[type="submit"]')
    await page.waitForSelector('#account-notice a[href="/dev/outbox/view"]')
    await followMailLink(page, email, 'reset')
    await page.waitForSelector('#reset-panel:not([hidden])')
    await page.fill('#reset-password', second)
    await page.click('#reset-form button[type="submit"]')
    await page.waitForSelector('#account-notice:has-text("Password changed")')
    expect(page.url()).not.toContain('#reset=')
    await page.fill('#username', username)
    await page.fill('#password', second)
    await page.click('#login-button')
    await page.waitForSelector('#status[data-state="connected"]', CONNECTED)

    // A second browser logs in; the first logs it out from "Where you're logged in".
    const other = await newPage()
    await other.goto(edge.url)
    await other.waitForSelector('#login-fields:not([disabled])')
    await other.fill('#username', username)
    await other.fill('#password', second)
    await other.click('#login-button')
    await other.waitForSelector('#status[data-state="connected"]', CONNECTED)
    await page.click('#sessions-refresh')
    await page.waitForSelector('#sessions li:nth-child(2)')
    expect(await page.locator('#sessions li').count()).toBe(2)
    await page.click('#sessions li button')
    await other.waitForSelector('#login-error:has-text("Your session was ended")', CONNECTED)
    await page.waitForSelector('#sessions li:only-child')
    expect(await page.getAttribute('#status', 'data-state')).toBe('connected')
  })

  it('has no serious or critical axe-core violations on the sign-up and forgot panels', async () => {
    const page = await newPage()
    await page.goto(edge.url)
    // The page enables its login fields once its script has attached every handler.
    await page.waitForSelector('#login-fields:not([disabled])')
    for (const panel of ['signup', 'forgot']) {
      await page.click(`#login-panel button[data-panel="${panel}"]`)
      await page.waitForSelector(`#${panel}-panel:not([hidden])`)
      const { violations } = await new AxeBuilder({ page }).analyze()
      expect(
        violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => ({ id: v.id, targets: v.nodes.map((n) => n.target.join(' ')) })),
      ).toEqual([])
      await page.click(`#${panel}-panel button[data-panel="login"]`)
    }
  })
})
