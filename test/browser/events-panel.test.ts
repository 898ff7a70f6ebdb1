/**
 * The demo page's lifecycle events panel in a real browser (Debian's chromium
 * via playwright-core): a real edge (wrangler dev) whose DEMO_EVENTS_URL names
 * a real `npm start` receiver (startDemoEvents), and a real realtime node whose
 * WEBHOOKS deliver to it, with a short presence grace so bob's offline comes soon.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import AxeBuilder from '@axe-core/playwright'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDemoEvents, type DemoEvents } from '../../edge/local/demo-events.ts'
import { freePort, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { memoryDeliverer } from '../realtime/lifecycle/receiver.ts'
import { startPageStack, type PageStack } from './page-stack.ts'

const ARTIFACTS = join(import.meta.dirname, '..', '.artifacts')
/** Short, so the test need not wait the default 5 s; the waits below do not depend on it. */
const PRESENCE_GRACE_MS = 300
/** Generous: a page connects, and a webhook arrives, within this on a loaded machine. */
const WAIT_MS = 45_000

let receiver: DemoEvents
let stack: PageStack
let edge: EdgeProcess

beforeAll(async () => {
  // The receiver allows the edge's origin, and the edge names the receiver: so the edge's port is
  // chosen first, as `npm start` does with EDGE_PORT.
  const edgePort = await freePort()
  receiver = await startDemoEvents({ port: 0, allowOrigins: [`http://127.0.0.1:${edgePort}`] })
  stack = await startPageStack({
    name: 'events-panel',
    edgePort,
    vars: { DEMO_EVENTS_URL: receiver.eventsUrl },
    realtime: {
      presence: { graceMs: PRESENCE_GRACE_MS },
      lifecycle: { webhooks: [{ url: receiver.hookUrl, secret: receiver.secret }] },
    },
  })
  edge = stack.edge
  await mkdir(ARTIFACTS, { recursive: true })
}, 120_000)

afterAll(async () => {
  await stack?.stop()
  await receiver?.close()
})

/** The demo page in a fresh context (its own cookies), with its console errors recorded. */
async function openPage(): Promise<Page> {
  const page = await stack.newPage()
  await page.goto(edge.url)
  return page
}

async function logIn(page: Page, username: string): Promise<void> {
  await page.fill('#username', username)
  await page.fill('#password', `${username}-password-1`)
  await page.click('#login-button')
  await page.waitForSelector('#status[data-state="connected"]', { timeout: WAIT_MS })
}

/** The panel's rows, newest first, as "type detail". */
function rows(page: Page): Promise<string[]> {
  return page.$$eval('#events li', (els) =>
    els.map(
      (el) =>
        `${el.querySelector('.type')?.textContent} ${el.querySelector('.detail')?.textContent}`,
    ),
  )
}

describe('the demo page events panel', { timeout: 180_000 }, () => {
  it("shows bob's user.online when he logs in and his user.offline once his page closes", async () => {
    const alice = await openPage()
    await alice.waitForSelector(
      '#events-panel:not([hidden]) #events-title:text-is("Lifecycle events")',
    )
    await logIn(alice, 'alice')
    await alice.waitForSelector('#events li[data-type="user.online"] .detail:text-is("alice")', {
      timeout: WAIT_MS,
    })

    const bob = await openPage()
    await logIn(bob, 'bob')
    await alice.waitForSelector('#events li[data-type="user.online"] .detail:text-is("bob")', {
      timeout: WAIT_MS,
    })
    expect(await rows(alice)).not.toContain('user.offline bob')

    await bob.context().close()
    await alice.waitForSelector('#events li[data-type="user.offline"] .detail:text-is("bob")', {
      timeout: WAIT_MS,
    })
    // Newest first: bob's offline above his online, above alice's online.
    const shown = await rows(alice)
    expect(shown[0]).toBe('user.offline bob')
    expect(shown.indexOf('user.offline bob')).toBeLessThan(shown.indexOf('user.online bob'))
    expect(shown.indexOf('user.online bob')).toBeLessThan(shown.indexOf('user.online alice'))

    const { violations } = await new AxeBuilder({ page: alice }).analyze()
    expect(
      violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id),
    ).toEqual([])
    await alice.screenshot({ path: join(ARTIFACTS, 'demo-events-panel.png'), fullPage: true })
    expect(stack.errorsOf(alice)).toEqual([])
  })

  it('shows event data as text, never markup', async () => {
    const page = await openPage()
    await page.waitForSelector('#events-panel:not([hidden])')
    // A verified delivery whose sub is markup: the receiver streams it; the page must not run it.
    const { log, deliverer } = memoryDeliverer(receiver.hookUrl, receiver.secret)
    try {
      const hostile = '<img src=x onerror="document.title=`owned`">'
      log.transition('user.online', hostile)
      await page.waitForFunction(
        (text) =>
          [...document.querySelectorAll('#events .detail')].some((el) => el.textContent === text),
        hostile,
        { timeout: WAIT_MS },
      )
      expect(await page.$$('#events img')).toEqual([])
      expect(await page.title()).toBe('edgegate demo')
      // The login view with the panel under its card, checked as the chat view is above.
      const { violations } = await new AxeBuilder({ page }).analyze()
      expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual(
        [],
      )
      await page.screenshot({ path: join(ARTIFACTS, 'demo-events-login.png'), fullPage: true })
    } finally {
      await deliverer.close()
    }
    expect(stack.errorsOf(page)).toEqual([])
  })
})
