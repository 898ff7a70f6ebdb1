/**
 * "Sign in with Demo IdP" on the demo page in real Chromium (docs/federated-login.md):
 * the page's button, the demo OpenID provider's login form, the edge's callback
 * setting the refresh cookie, and back on the page a session, a socket and a chat
 * message, against the real edge (`wrangler dev`) and a real realtime node.
 */
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO_IDP_ACCOUNTS,
  DEMO_IDP_ID,
  startDemoIdp,
  type DemoIdp,
} from '../../edge/local/demo-idp.ts'
import { startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { chatEvents } from '../../realtime/events/chat.ts'
import { createRealtimeServer, type RealtimeServer } from '../../realtime/server.ts'
import { launchChromium } from './chromium.ts'
import { edgeStateDir } from '../support/edge-state.ts'

let stateDir: string
let edge: EdgeProcess
let idp: DemoIdp
let realtime: RealtimeServer
let browser: Browser

async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const placeholder = createServer().listen(0, '127.0.0.1').unref()
  await once(placeholder, 'listening')
  return {
    port: (placeholder.address() as AddressInfo).port,
    release: () => new Promise<void>((resolve) => placeholder.close(() => resolve())),
  }
}

beforeAll(async () => {
  stateDir = await edgeStateDir('edgegate-federated-browser-')
  const realtimePort = await holdPort()
  const edgePort = await holdPort()
  const realtimeUrl = `http://127.0.0.1:${realtimePort.port}`
  const edgeUrl = `http://127.0.0.1:${edgePort.port}`
  idp = await startDemoIdp({
    port: 0,
    redirectUris: [`${edgeUrl}/auth/federated/${DEMO_IDP_ID}/callback`],
  })
  await edgePort.release()
  edge = await startEdge({
    port: edgePort.port,
    stateDir,
    migrated: true,
    stdio: 'ignore',
    vars: {
      REALTIME_PUBLIC_URL: realtimeUrl,
      REALTIME_URLS: realtimeUrl,
      SIGNUP: 'open',
      // As npm start configures them (edge/local/start.ts).
      FEDERATION: JSON.stringify([idp.federationEntry]),
      ALLOWED_RETURN_URLS: `${edgeUrl}/?signed_in=federated`,
    },
  })
  realtime = createRealtimeServer({
    issuer: edge.url,
    allowedOrigins: [edge.url],
    events: chatEvents,
    revocationFeed: { edgeUrl: edge.url, token: edge.feedToken, intervalMs: 500 },
  })
  await realtimePort.release()
  await realtime.listen(realtimePort.port, '127.0.0.1')
  for (let i = 0; i < 100 && realtime.notReadyReasons().length > 0; i++)
    await new Promise((r) => setTimeout(r, 100))
  browser = await launchChromium()
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await realtime?.close({ timeoutMs: 2000 })
  await edge?.stop()
  await idp?.close()
  await rm(stateDir, { recursive: true, force: true })
})

describe('the demo page: federated login', { timeout: 240_000 }, () => {
  it('signs in with Demo IdP, comes back connected, and chats', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(edge.url)
      await page.waitForSelector('#login-fields:not([disabled])')
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
      await page.waitForSelector('#status[data-state="connected"]', { timeout: 45_000 })
      expect(await page.textContent('#whoami')).toBe(dana.username)
      expect(await page.textContent('#binding')).toBe("Session bound to this browser's key (DPoP)")
      // The page took the return mark out of the address bar.
      expect(page.url()).toBe(`${edge.url}/`)
      const cookies = await context.cookies(edge.url + '/auth')
      expect(cookies.find((c) => c.name === 'edgegate_refresh')?.httpOnly).toBe(true)

      const text = `signed in with Demo IdP ${crypto.randomUUID().slice(0, 6)}`
      await page.fill('#message-input', text)
      await page.click('#send')
      await page.waitForSelector(`#messages li:has-text("${text}")`)
    } finally {
      await context.close()
    }
  })
})
