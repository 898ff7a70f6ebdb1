/**
 * `npm start` on ports other than the defaults (EDGE_PORT, REALTIME_PORT): every URL it
 * derives follows them. The page learns the realtime URL from /demo/config and chats in a
 * real browser; `npm run demo:chat` finds both services by the same variables; with
 * nothing running it says so in a sentence.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../edge/local/edge-process.ts'
import { launchChromium } from './chromium.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
let stateDir: string
let start: ChildProcess
let output = ''
let env: NodeJS.ProcessEnv
let edgeUrl: string
let realtimeUrl: string
let browser: Browser

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'edgegate-ports-'))
  const edgePort = await freePort()
  let realtimePort = await freePort()
  while (realtimePort === edgePort) realtimePort = await freePort()
  edgeUrl = `http://127.0.0.1:${edgePort}`
  realtimeUrl = `http://127.0.0.1:${realtimePort}`
  env = {
    ...process.env,
    EDGE_PORT: String(edgePort),
    REALTIME_PORT: String(realtimePort),
    STATE_DIR: stateDir,
    // The events receiver on any free port: its URL reaches the page through /demo/config.
    DEMO_EVENTS_PORT: '0',
  }
  start = spawn(process.execPath, ['edge/local/start.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  start.stdout!.on('data', (chunk: Buffer) => (output += chunk))
  start.stderr!.on('data', (chunk: Buffer) => (output += chunk))
  const exited = once(start, 'exit').then(() => {
    throw new Error(`npm start exited early:\n${output}`)
  })
  const running = new Promise<void>((resolve) => {
    const check = () => output.includes('edgegate is running') && resolve()
    start.stdout!.on('data', check)
  })
  await Promise.race([running, exited])
  browser = await launchChromium()
}, 180_000)

afterAll(async () => {
  await browser?.close()
  if (start && start.exitCode === null) {
    start.kill('SIGTERM')
    await once(start, 'exit')
  }
  await rm(stateDir, { recursive: true, force: true })
})

/** Run a demo script with `environment`; its exit code and output. */
async function demo(script: string, environment: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [script], { cwd: ROOT, env: environment })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk))
  child.stderr.on('data', (chunk: Buffer) => (out += chunk))
  const [code] = (await once(child, 'exit')) as [number]
  return { code, out }
}

describe('npm start on EDGE_PORT and REALTIME_PORT', { timeout: 120_000 }, () => {
  it("tells the page the realtime node's own URL, and the events receiver's, open to the edge", async () => {
    const res = await fetch(`${edgeUrl}/demo/config`)
    const config = (await res.json()) as { realtimeUrl: string; eventsUrl: string }
    expect(config).toMatchObject({ realtimeUrl })
    expect(config.eventsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/events$/)
    const abort = new AbortController()
    // As the page's EventSource asks: with its own origin.
    const events = await fetch(config.eventsUrl, {
      headers: { origin: edgeUrl },
      signal: abort.signal,
    })
    abort.abort()
    expect(events.headers.get('access-control-allow-origin')).toBe(edgeUrl)
  })

  it('the page connects to the realtime node on its port and chats', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', (msg) => void (msg.type() === 'error' && errors.push(msg.text())))
    await page.goto(edgeUrl)
    await page.fill('#username', 'alice')
    await page.fill('#password', 'alice-password-1')
    await page.click('#login-button')
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 45_000 })
    await page.waitForSelector('#room-title:text-is("lobby")')
    await page.fill('#message-input', 'on other ports')
    await page.click('#send')
    await page.waitForSelector('#messages li:has-text("on other ports")')
    expect(errors).toEqual([])
    await context.close()
  })

  it('demo:chat finds both by the same variables', async () => {
    const { code, out } = await demo('test/demo/chat.ts', env)
    expect(code, out).toBe(0)
    expect(out).toContain('[bob sees] alice: hi bob!')
  })

  it('demo:chat says plainly what is not running, with no stack', async () => {
    const nothing = String(await freePort())
    const { code, out } = await demo('test/demo/chat.ts', {
      ...process.env,
      EDGE_PORT: nothing,
      REALTIME_PORT: nothing,
    })
    expect(code).toBe(1)
    expect(out).toContain(`demo:chat: not running: the edge at http://127.0.0.1:${nothing}`)
    expect(out).toContain('npm start')
    expect(out).not.toContain('fetch failed')
    expect(out).not.toMatch(/\n\s+at /)
  })
})
