/**
 * The stack every demo-page browser test runs against, started one way: a real
 * edge (wrangler dev, serving the built page), a real realtime node that
 * trusts it and allows the page's origin, and Debian's chromium through
 * playwright-core; with the Demo IdP too where a test signs in through it.
 */
import { once } from 'node:events'
import { rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { DEMO_IDP_ID, startDemoIdp, type DemoIdp } from '../../edge/local/demo-idp.ts'
import { startEdge, type EdgeProcess } from '../../edge/local/edge-process.ts'
import { edgeStateDir } from '../support/edge-state.ts'
import { chatEvents } from '../../realtime/events/chat.ts'
import { createRealtimeServer, type RealtimeServer } from '../../realtime/server.ts'
import type { RealtimeServerOptions } from '../../realtime/server-options.ts'
import { until } from '../realtime/waits.ts'
import { launchChromium, recordErrors } from './chromium.ts'

/** Options of {@link startPageStack}. */
export interface PageStackOptions {
  /** Names the state directory, for a failing run's leftovers. */
  name: string
  /** Host the page is opened on: `localhost` where WebAuthn needs a domain as RP id. @default '127.0.0.1' */
  pageHost?: '127.0.0.1' | 'localhost'
  /** The edge's port, when something had to know it before the stack starts. @default a free port, held until used */
  edgePort?: number
  /** Seed the demo users (alice, bob, carol). @default true */
  demoUsers?: boolean
  /** Edge variables beyond the realtime URLs (which the stack sets); a function is given the page's origin. */
  vars?: Record<string, string> | ((pageOrigin: string) => Record<string, string>)
  /** Realtime options beyond issuer, origins, chat events, the revocation feed and public URL. */
  realtime?: Partial<RealtimeServerOptions>
  /**
   * Start the Demo IdP before the edge (its redirect URI names the edge) and trust it as
   * `npm start` does (edge/local/start.ts): FEDERATION, and the page's return URL. @default false
   */
  demoIdp?: boolean
}

/** A running stack; {@link PageStack.stop} ends everything it started. */
export interface PageStack {
  edge: EdgeProcess
  realtime: RealtimeServer
  browser: Browser
  /** Where the page is served, as the browser opens it. */
  pageOrigin: string
  /** The Demo IdP, with {@link PageStackOptions.demoIdp}. */
  idp?: DemoIdp
  /**
   * A page in a fresh browser context (its own cookies and storage: its own
   * session), recording its console errors in `errorsOf(page)`.
   */
  newPage(): Promise<Page>
  /** The console errors and uncaught exceptions of a page from {@link PageStack.newPage}. */
  errorsOf(page: Page): string[]
  stop(): Promise<void>
}

/** Generous: a refused handshake backs off with jitter up to 30 s before the page connects. */
export const CONNECTED = { timeout: 45_000 }

/**
 * Hold a port by listening on it until `release`: a port merely found free
 * could be taken by anything else during the seconds the edge takes to start.
 */
async function holdPort(): Promise<{ port: number; release(): Promise<void> }> {
  const placeholder = createServer().listen(0, '127.0.0.1').unref()
  await once(placeholder, 'listening')
  return {
    port: (placeholder.address() as AddressInfo).port,
    release: () => new Promise<void>((resolve) => placeholder.close(() => resolve())),
  }
}

/**
 * Start the edge, a realtime node and chromium.
 *
 * @param options - {@link PageStackOptions}
 * @example
 * ```ts
 * let stack: PageStack
 * beforeAll(async () => { stack = await startPageStack({ name: 'accounts', vars: { SIGNUP: 'open' } }) }, 120_000)
 * afterAll(() => stack?.stop())
 * ```
 */
export async function startPageStack(options: PageStackOptions): Promise<PageStack> {
  const stops: (() => Promise<unknown>)[] = []
  async function stop(): Promise<void> {
    for (const step of stops.splice(0).reverse()) await step().catch(() => undefined)
  }
  try {
    const stateDir = await edgeStateDir(`edgegate-${options.name}-`, {
      demoUsers: options.demoUsers !== false,
    })
    stops.push(() => rm(stateDir, { recursive: true, force: true }))
    // The edge must know the node's URL before the node can know the edge's.
    const realtimePort = await holdPort()
    stops.push(() => realtimePort.release())
    const edgePort = options.edgePort === undefined ? await holdPort() : undefined
    const port = options.edgePort ?? edgePort!.port
    const pageOrigin = `http://${options.pageHost ?? '127.0.0.1'}:${port}`
    const realtimeUrl = `http://127.0.0.1:${realtimePort.port}`
    const idp = options.demoIdp
      ? await startDemoIdp({
          port: 0,
          redirectUris: [`${pageOrigin}/auth/federated/${DEMO_IDP_ID}/callback`],
        })
      : undefined
    if (idp) stops.push(() => idp.close())
    await edgePort?.release()
    const edge = await startEdge({
      port,
      stateDir,
      migrated: true,
      stdio: 'ignore',
      vars: {
        REALTIME_PUBLIC_URL: realtimeUrl,
        REALTIME_URLS: realtimeUrl,
        ...(idp && {
          FEDERATION: JSON.stringify([idp.federationEntry]),
          ALLOWED_RETURN_URLS: `${pageOrigin}/?signed_in=federated`,
        }),
        ...(typeof options.vars === 'function' ? options.vars(pageOrigin) : options.vars),
      },
    })
    stops.push(() => edge.stop())
    const realtime = createRealtimeServer({
      issuer: edge.url,
      allowedOrigins: [pageOrigin],
      events: chatEvents,
      revocationFeed: { edgeUrl: edge.url, token: edge.feedToken, intervalMs: 500 },
      // The URL the edge gives the page, which DPoP proofs name as their htu.
      publicUrl: realtimeUrl,
      ...options.realtime,
    })
    await realtimePort.release()
    await realtime.listen(realtimePort.port, '127.0.0.1')
    stops.push(() => realtime.close({ timeoutMs: 2000 }))
    await until(() => realtime.notReadyReasons().length === 0, {
      timeoutMs: 30_000,
      what: 'realtime ready (the edge keys loaded)',
    })
    const browser = await launchChromium()
    stops.push(() => browser.close())
    const errors = new WeakMap<Page, string[]>()
    const contexts: BrowserContext[] = []
    // Contexts close before the browser does.
    stops.push(async () => {
      for (const context of contexts) await context.close().catch(() => undefined)
    })
    return {
      edge,
      realtime,
      browser,
      pageOrigin,
      ...(idp && { idp }),
      async newPage() {
        const context = await browser.newContext()
        contexts.push(context)
        const page = await context.newPage()
        errors.set(page, recordErrors(page))
        return page
      },
      errorsOf: (page) => errors.get(page) ?? [],
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * Open the demo page and wait until its script has attached every handler:
 * it enables the login fields last, and a click before that does nothing.
 */
export async function openDemoPage(page: Page, origin: string): Promise<void> {
  await page.goto(origin)
  await page.waitForSelector('#login-fields:not([disabled])')
}
