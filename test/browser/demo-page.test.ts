/**
 * The demo page in a real browser (Debian's chromium via playwright-core),
 * against the real edge (wrangler dev, serving the built page) and a real
 * realtime node.
 */
import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EdgeProcess } from '../../edge/local/edge-process.ts'
import type { RealtimeServer } from '../../realtime/server.ts'
import { createPublisher } from '../../shared/publisher/index.ts'
import { recordErrors } from './chromium.ts'
import { startPageStack, type PageStack } from './page-stack.ts'

const ARTIFACTS = join(import.meta.dirname, '..', '.artifacts')
const TOKEN_TTL_SECONDS = 10
/**
 * The node's presence grace. Longer than the default 5 s: "nothing when bob reloads" needs his
 * reload (page, script, refresh at the edge, handshake, join) to finish inside it, and on a
 * loaded machine a Chromium reload can take seconds.
 */
const PRESENCE_GRACE_MS = 15_000

let stack: PageStack
let edge: EdgeProcess
let realtime: RealtimeServer
let browser: Browser
const contexts: BrowserContext[] = []
const consoleErrors = new Map<Page, string[]>()

beforeAll(async () => {
  stack = await startPageStack({
    name: 'browser',
    vars: { ACCESS_TOKEN_TTL: String(TOKEN_TTL_SECONDS) },
    realtime: { presence: { graceMs: PRESENCE_GRACE_MS } },
  })
  ;({ edge, realtime, browser } = stack)
  await mkdir(ARTIFACTS, { recursive: true })
}, 120_000)

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined)
  await stack?.stop()
})

/** A fresh browser context (its own cookies: its own session) logged in as `username`, in lobby. */
async function loggedIn(username: string): Promise<Page> {
  const context = await browser.newContext()
  contexts.push(context)
  const page = await context.newPage()
  const errors = recordErrors(page)
  consoleErrors.set(page, errors)
  await page.goto(edge.url)
  await page.fill('#username', username)
  await page.fill('#password', `${username}-password-1`)
  await page.click('#login-button')
  try {
    // Generous: a refused handshake (rate_limited, unavailable) backs off with jitter up to 30 s.
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 45_000 })
  } catch (err) {
    // Say where the page got to: its state, what it showed, what it logged.
    const seen = await page.evaluate(() => ({
      state: document.querySelector('#status')?.getAttribute('data-state'),
      loginError: document.querySelector('#login-error')?.textContent,
      sendError: document.querySelector('#send-error')?.textContent,
    }))
    const where = { url: page.url(), ...seen, errors }
    throw new Error(`${username} did not connect: ${JSON.stringify(where)}`, {
      cause: err,
    })
  }
  await page.waitForSelector('#room-title:text-is("lobby")')
  return page
}

async function send(page: Page, text: string) {
  await page.fill('#message-input', text)
  await page.click('#send')
}

/** The texts of the messages the page shows, in order. */
function messages(page: Page): Promise<string[]> {
  return page.$$eval('#messages li .text', (els) => els.map((el) => el.textContent ?? ''))
}

/** axe-core's serious and critical violations on the page as it is now, with where they are. */
async function seriousViolations(page: Page) {
  const { violations } = await new AxeBuilder({ page }).analyze()
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }))
}

// Each test may log in up to three pages, each allowed 45 s on a loaded machine.
describe('the demo page', { timeout: 180_000 }, () => {
  it('lets alice and bob chat in lobby from two browser windows', async () => {
    const alice = await loggedIn('alice')
    const bob = await loggedIn('bob')
    await send(alice, 'hello bob, from the browser')
    await bob.waitForSelector('#messages li:has-text("hello bob, from the browser")')
    await send(bob, 'hi alice')
    await alice.waitForSelector('#messages li:has-text("hi alice")')
    expect(await messages(alice)).toEqual(['hello bob, from the browser', 'hi alice'])
    expect(await messages(bob)).toEqual(['hello bob, from the browser', 'hi alice'])
    expect(await alice.$eval('#messages li:last-child .from', (el) => el.textContent)).toBe('bob')
    expect(await alice.textContent('#whoami')).toBe('alice')
    await alice.screenshot({ path: join(ARTIFACTS, 'demo-chat.png'), fullPage: true })
    expect(consoleErrors.get(alice)).toEqual([])
    expect(consoleErrors.get(bob)).toEqual([])
  })

  it('refreshes tokens several times with no lost or duplicated messages', async () => {
    const alice = await loggedIn('alice')
    const bob = await loggedIn('bob')
    const sent: string[] = []
    // Bob talks for three token lifetimes; both pages refresh in-band meanwhile.
    const until = Date.now() + 3.2 * TOKEN_TTL_SECONDS * 1000
    for (let i = 1; Date.now() < until; i++) {
      const text = `tick ${i}`
      sent.push(text)
      await send(bob, text)
      await new Promise((r) => setTimeout(r, 400))
    }
    await alice.waitForSelector(`#messages li:has-text("${sent.at(-1)}")`)
    expect(await messages(alice)).toEqual(sent)
    expect(Number(await alice.textContent('#refreshes'))).toBeGreaterThanOrEqual(3)
    expect(Number(await bob.textContent('#refreshes'))).toBeGreaterThanOrEqual(3)
    // A refresh may be under way at this instant ('refreshing'); what must
    // hold is that the page comes back to 'connected', not that it is there now.
    await alice.waitForSelector('#status[data-state="connected"]')
    expect(consoleErrors.get(alice)).toEqual([])
  }, 90_000)

  it('keeps the login form shut until its script has taken it over: no native submit, no password in a URL', async () => {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    const urls: string[] = []
    page.on('request', (request) => urls.push(request.url()))
    // Hold the script's first request (the demo config) so that the form is on screen while
    // the script is not yet ready: what a slow network or a loaded machine does to a user.
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    await page.route('**/demo/config', async (route) => {
      await held
      await route.continue()
    })
    await page.goto(edge.url, { waitUntil: 'domcontentloaded' })
    await page.waitForSelector('#login-button')
    expect(await page.isDisabled('#login-button')).toBe(true)
    expect(await page.isEditable('#password')).toBe(false)
    release()
    // fill and click wait for the form to be enabled.
    await page.fill('#username', 'alice')
    await page.fill('#password', 'alice-password-1')
    await page.click('#login-button')
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 45_000 })
    expect(page.url()).toBe(`${edge.url}/`)
    expect(urls.filter((url) => url.includes('password'))).toEqual([])
  })

  it('logging out in one window ends that session only', async () => {
    const first = await loggedIn('alice')
    const second = await loggedIn('alice')
    const bob = await loggedIn('bob')
    await first.click('#logout')
    await first.waitForSelector('#login:not([hidden])')
    expect(await first.isHidden('#app')).toBe(true)
    await send(bob, 'still there?')
    await second.waitForSelector('#messages li:has-text("still there?")')
    // Still connected (its own in-band refreshes pass through "refreshing" every few seconds).
    await second.waitForSelector('#status[data-state="connected"]', { timeout: 45_000 })
    // The logged-out window stays logged out after a reload: its cookie is gone.
    await first.reload()
    await first.waitForSelector('#login:not([hidden])')
    expect(await first.isHidden('#app')).toBe(true)
  })

  it('gives read-only carol a shut Send box that says why; headings rank by size and keep apart', async () => {
    const carol = await loggedIn('carol')
    expect(await carol.isDisabled('#send')).toBe(true)
    expect(await carol.isDisabled('#message-input')).toBe(true)
    expect(await carol.getAttribute('#message-input', 'placeholder')).toMatch(/read only/i)
    const alice = await loggedIn('alice')
    expect(await alice.isDisabled('#send')).toBe(false)
    expect(await alice.isEditable('#message-input')).toBe(true)
    // "Here now" is a sub-heading of the room's name: not larger.
    const fontSize = (page: Page, selector: string) =>
      page.$eval(selector, (el) => parseFloat(getComputedStyle(el).fontSize))
    expect(await fontSize(carol, '#presence-title')).toBeLessThan(
      await fontSize(carol, '#room-title'),
    )
    // A heading placed right under the Join box (as Notifications is) stands clear of it.
    const gap = await alice.evaluate(() => {
      const heading = document.createElement('h2')
      heading.textContent = 'Notifications'
      document.getElementById('logout')!.before(heading)
      const gap =
        heading.getBoundingClientRect().top -
        document.getElementById('join-input')!.getBoundingClientRect().bottom
      heading.remove()
      return gap
    })
    expect(gap).toBeGreaterThanOrEqual(12)
    expect(await seriousViolations(carol)).toEqual([])
    expect(consoleErrors.get(carol)).toEqual([])
  })

  it("asks a revoked session's page to log in again", async () => {
    const carol = await loggedIn('carol')
    const res = await fetch(`${edge.url}/admin/users/carol/disable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${edge.adminToken}` },
    })
    expect(res.status).toBe(204)
    await carol.waitForSelector('#login-error:has-text("Your session was ended")')
    expect(await carol.isVisible('#login')).toBe(true)
    expect(await carol.getAttribute('#status', 'data-state')).toBe('auth_required')
  })

  it('shows a readable error for a wrong password', async () => {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    await page.goto(edge.url)
    await page.fill('#username', 'bob')
    await page.fill('#password', 'not-the-password')
    await page.click('#login-button')
    await page.waitForSelector('#login-error:has-text("Wrong username or password.")')
  })
  it('shows what a service publishes to alice once, and after a reload what was published while away', async () => {
    const alice = await loggedIn('alice')
    const publisher = await demoPublisher()
    const sub = await subOf('alice')
    const notifications = () =>
      alice.$$eval('#notifications li', (els) => els.map((el) => el.textContent ?? ''))

    await publisher.publish({
      to: { user: sub },
      event: 'notification',
      data: { text: 'report ready' },
    })
    await alice.waitForSelector('#notifications li:has-text("report ready")')
    // Away: the page is gone while a service publishes; back, it catches up from its stored offset.
    await alice.goto('about:blank')
    await publisher.publish({
      to: { user: sub },
      event: 'notification',
      data: { text: 'while away' },
    })
    await alice.goto(edge.url)
    await alice.waitForSelector('#notifications li:has-text("while away")')
    expect(await notifications()).toEqual([expect.stringMatching(/ while away$/)])
    expect(consoleErrors.get(alice)).toEqual([])
  })

  it('shows on a first login what was published before it (the page syncs from "0")', async () => {
    // A user of its own: an earlier test disables carol, and no test here may depend on order.
    const created = await fetch(`${edge.url}/admin/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${edge.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        username: 'dora',
        password: 'dora-password-1',
        scope: 'chat:read',
        rooms: ['lobby'],
      }),
    })
    expect(created.status).toBe(201)
    const publisher = await demoPublisher()
    await publisher.publish({
      to: { user: await subOf('dora') },
      event: 'notification',
      data: { text: 'sent before dora logged in' },
    })
    // A fresh context: this browser has never synced for dora, no offset is stored.
    const dora = await loggedIn('dora')
    await dora.waitForSelector('#notifications li:has-text("sent before dora logged in")')
    expect(consoleErrors.get(dora)).toEqual([])
  })
})

/** A publisher for a new service client with the `publish` scope. */
async function demoPublisher() {
  const created = await fetch(`${edge.url}/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${edge.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'browser-test', scope: 'publish' }),
  })
  expect(created.status).toBe(201)
  const { client_id, client_secret } = (await created.json()) as {
    client_id: string
    client_secret: string
  }
  const port = (realtime.httpServer.address() as AddressInfo).port
  return createPublisher({
    edgeUrl: edge.url,
    realtimeUrl: `http://127.0.0.1:${port}`,
    clientId: client_id,
    clientSecret: client_secret,
  })
}

/** A demo user's id, from a session of their own (a page's session stays untouched). */
async function subOf(username: string): Promise<string> {
  const login = await fetch(`${edge.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username}-password-1` }),
  })
  expect(login.status).toBe(200)
  return decodeJwt(((await login.json()) as { access_token: string }).access_token).sub!
}

describe('accessibility', () => {
  it('has no serious or critical axe-core violations on the login view', async () => {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    const origins = new Set<string>()
    page.on('request', (req) => origins.add(new URL(req.url()).origin))
    await page.goto(edge.url)
    await page.waitForSelector('#login:not([hidden])')
    expect(await seriousViolations(page)).toEqual([])
    // No DEMO_EVENTS_URL (a deployed demo): no events panel, and no request anywhere but the edge.
    await page.waitForSelector('#login-fields:not([disabled])')
    expect(await page.isHidden('#events-panel')).toBe(true)
    expect([...origins]).toEqual([edge.url])
  })

  it('has no serious or critical violations on the chat view, and the message box is named by a label', async () => {
    const alice = await loggedIn('alice')
    await send(alice, 'a message for the checker')
    await alice.waitForSelector('#messages li:has-text("a message for the checker")')
    expect(await seriousViolations(alice)).toEqual([])
    // A placeholder is not a name (it disappears as one types): a <label> names both fields.
    await expect(
      alice.getByRole('textbox', { name: 'Message', exact: true }).count(),
    ).resolves.toBe(1)
    await expect(
      alice.getByRole('textbox', { name: 'Room to join', exact: true }).count(),
    ).resolves.toBe(1)
  })
})

describe('who is here, on the demo page', () => {
  /** The names alice's page lists, after every change of the list, in order. */
  const watch = (page: Page) =>
    page.evaluate(() => {
      const log: string[][] = []
      ;(window as unknown as { presenceLog: string[][] }).presenceLog = log
      const ul = document.getElementById('presence')!
      const note = () => log.push([...ul.children].map((li) => li.textContent ?? '').sort())
      note()
      new MutationObserver(note).observe(ul, { childList: true })
    })
  const logOf = (page: Page) =>
    page.evaluate(() => (window as unknown as { presenceLog: string[][] }).presenceLog)

  it('shows bob arriving, nothing when he reloads, and his leave after the grace once he closes', async () => {
    // Earlier tests' windows go first, and their users with them (after the grace).
    for (const context of contexts.splice(0)) await context.close()
    const alice = await loggedIn('alice')
    await alice.waitForSelector('#presence li:text-is("alice")')
    await alice.waitForFunction(
      () => ![...document.querySelectorAll('#presence li')].some((li) => li.textContent === 'bob'),
      null,
      { timeout: PRESENCE_GRACE_MS + 30_000 },
    )
    await watch(alice)
    const bob = await loggedIn('bob')
    await alice.waitForSelector('#presence li:text-is("bob")', { timeout: 15_000 })
    await bob.waitForSelector('#presence li:text-is("alice")')

    await bob.reload()
    await bob.waitForSelector('#status[data-state="connected"]')
    await bob.waitForSelector('#presence li:text-is("bob")', { timeout: 15_000 })
    await bob.context().close()
    await alice.waitForFunction(
      () => ![...document.querySelectorAll('#presence li')].some((li) => li.textContent === 'bob'),
      null,
      { timeout: PRESENCE_GRACE_MS + 30_000 },
    )

    // Ordering, not durations: bob was listed in every state from his arrival until the last, which is his leave.
    const log = await logOf(alice)
    const arrived = log.findIndex((names) => names.includes('bob'))
    expect(arrived).toBeGreaterThan(0)
    expect(log.slice(arrived, -1).every((names) => names.includes('bob'))).toBe(true)
    expect(log.at(-1)).toEqual(['alice'])
    await alice.screenshot({ path: join(ARTIFACTS, 'demo-presence.png'), fullPage: true })
    expect(consoleErrors.get(alice)).toEqual([])
  }, 180_000)
})
