/**
 * `npm start`'s webhook receiver for lifecycle events (docs/webhooks.md): the
 * local realtime nodes POST each event here, signed; it verifies them with
 * `verifyWebhook`, keeps the last few, and shows them live on its own small
 * page (server-sent events), so a visitor sees bob go offline a grace period
 * after he closes his tab on the demo page. The demo page shows the same
 * stream in its events panel (edge/web/events-panel.ts): `npm start` gives the
 * edge this receiver's `/events` as DEMO_EVENTS_URL, and `/events` answers
 * CORS for the edge's origin alone. A deployed demo page (no DEMO_EVENTS_URL)
 * shows no panel and makes no request.
 */
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseHttpUrl } from '../../shared/url.ts'
import { verifyWebhook } from '../../shared/webhooks/verify.ts'

/** Events the demo receiver keeps and replays to a new page. */
const DEMO_EVENTS_KEPT = 20
/** Pages streamed to at once; more are refused with 503. */
const DEMO_EVENTS_MAX_PAGES = 32
/** Largest delivery read, bytes. */
const DEMO_EVENTS_MAX_BODY_BYTES = 64 * 1024

/** The receiver's page: the last events, newest first, as text (event data is never markup). */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgegate lifecycle events</title>
<style>body{font:15px system-ui;margin:2rem;max-width:44rem}li{font-family:monospace;margin:.2rem 0}
.user\\.offline,.room\\.vacated,.session\\.revoked{color:#b00}</style></head>
<body><h1>Lifecycle events</h1>
<p>Webhooks from the local realtime node, verified with <code>verifyWebhook</code> (docs/webhooks.md).
Log in on the demo page as bob, close the tab, and watch <code>user.offline</code> arrive after the grace.</p>
<ol id="events" reversed></ol>
<script>
const list = document.getElementById('events')
new EventSource('/events').onmessage = (m) => {
  const e = JSON.parse(m.data)
  const li = document.createElement('li')
  li.className = e.type
  li.textContent = new Date(e.ts).toLocaleTimeString() + '  ' + e.type + '  ' + Object.values(e.data).join(' ')
  list.prepend(li)
  while (list.children.length > ${DEMO_EVENTS_KEPT}) list.lastElementChild.remove()
}
</script></body></html>
`

/** A running demo receiver. */
export interface DemoEvents {
  /** Where the nodes POST (put it in WEBHOOKS). */
  hookUrl: string
  /** The page that shows the events live. */
  pageUrl: string
  /** The server-sent events stream (the demo page's DEMO_EVENTS_URL). */
  eventsUrl: string
  /** `whsec_…`, fresh per start. */
  secret: string
  close(): Promise<void>
}

/**
 * Start the demo receiver on 127.0.0.1.
 *
 * @param options - `port` (0: any); `allowOrigins`: the origins (the edge's, as 127.0.0.1 and as
 *   localhost, where its passkeys work) whose pages may read `/events` across origins (CORS).
 *   @default none: same-origin only
 * @example
 * ```ts
 * const events = await startDemoEvents({ port: 8790, allowOrigins: ['http://127.0.0.1:8787'] })
 * ```
 */
export async function startDemoEvents(options: {
  port: number
  allowOrigins?: readonly string[]
}): Promise<DemoEvents> {
  // Origins exactly (scheme, host, port; no path): the header allows nothing else.
  const allowed = new Set(options.allowOrigins ?? [])
  for (const origin of allowed)
    if (parseHttpUrl(origin)?.origin !== origin)
      throw new TypeError('allowOrigins must be http(s) origins, such as http://127.0.0.1:8787')
  // The request's own Origin, echoed only when it is one of those (the header names one origin).
  const cors = (origin: string | undefined) =>
    origin !== undefined && allowed.has(origin)
      ? { 'access-control-allow-origin': origin, vary: 'origin' }
      : allowed.size > 0
        ? { vary: 'origin' }
        : undefined
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const kept: string[] = []
  const pages = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy':
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
      })
      return void res.end(PAGE)
    }
    if (req.method === 'GET' && req.url === '/events') {
      if (pages.size >= DEMO_EVENTS_MAX_PAGES) return void res.writeHead(503).end()
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        ...cors(req.headers.origin),
      })
      // Send the headers now, not with the first event: the page's EventSource opens on them.
      res.flushHeaders()
      for (const line of kept) res.write(line)
      pages.add(res)
      res.on('close', () => pages.delete(res))
      return
    }
    if (req.method !== 'POST' || req.url !== '/hook') return void res.writeHead(404).end()
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > DEMO_EVENTS_MAX_BODY_BYTES) req.destroy()
      else chunks.push(chunk)
    })
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      verifyWebhook(secret, req.headers, body).then(
        () => {
          const line = `data: ${body}\n\n`
          kept.push(line)
          if (kept.length > DEMO_EVENTS_KEPT) kept.shift()
          for (const page of pages) page.write(line)
          res.writeHead(204).end()
        },
        () => res.writeHead(400).end(),
      )
    })
  })
  server.listen(options.port, '127.0.0.1')
  await once(server, 'listening')
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    hookUrl: `${base}/hook`,
    pageUrl: `${base}/`,
    eventsUrl: `${base}/events`,
    secret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
