/**
 * Passkeys on the demo page in real Chromium with a virtual authenticator
 * (the DevTools protocol's WebAuthn domain through playwright-core's CDP
 * session: CTAP2, internal transport, resident keys, user verification),
 * against the real edge and a real realtime node: register a passkey, log
 * out, log in with it, connect and chat; a passkey-only sign-up; deleting the
 * last passkey of a passkey-only account refused. The page is served as
 * `localhost` (RP_ID), since browsers refuse an IP address as an RP id.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { demoUsersSql } from '../../edge/local/demo-users.ts'
import { startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { chatEvents } from '../../realtime/events/chat.ts'
import { createRealtimeServer, type RealtimeServer } from '../../realtime/server.ts'
import { launchChromium } from './chromium.ts'

let stateDir: string
let edge: EdgeProcess
let realtime: RealtimeServer
let browser: Browser
let pageOrigin: string
const contexts: BrowserContext[] = []

async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const placeholder = createServer().listen(0, '127.0.0.1').unref()
  await once(placeholder, 'listening')
  return {
    port: (placeholder.address() as AddressInfo).port,
    release: () => new Promise<void>((resolve) => placeholder.close(() => resolve())),
  }
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'edgegate-passkeys-browser-'))
  const realtimePort = await holdPort()
  const edgePort = await holdPort()
  const realtimeUrl = `http://127.0.0.1:${realtimePort.port}`
  pageOrigin = `http://localhost:${edgePort.port}`
  await edgePort.release()
  edge = await startEdge({
    port: edgePort.port,
    stateDir,
    stdio: 'ignore',
    seedSql: await demoUsersSql(),
    vars: {
      REALTIME_PUBLIC_URL: realtimeUrl,
      REALTIME_URLS: realtimeUrl,
      SIGNUP: 'open',
      RP_ID: 'localhost',
      RP_ORIGINS: pageOrigin,
    },
  })
  realtime = createRealtimeServer({
    issuer: edge.url,
    allowedOrigins: [pageOrigin],
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
  for (const context of contexts) await context.close().catch(() => undefined)
  await browser?.close()
  await realtime?.close({ timeoutMs: 2000 })
  await edge?.stop()
  await rm(stateDir, { recursive: true, force: true })
})

/** A page in a fresh context with its own virtual platform authenticator. */
async function pageWithAuthenticator(): Promise<Page> {
  const context = await browser.newContext()
  contexts.push(context)
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
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
  await page.goto(pageOrigin)
  // The page script has attached its handlers once it enables the login form.
  await page.waitForSelector('#login-fields:not([disabled])')
  return page
}

const CONNECTED = { timeout: 45_000 }

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
